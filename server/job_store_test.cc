#include "server/job_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using ::videogen::v1::VideoJob;

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    ASSERT_OK_AND_ASSIGN(store_, JobStore::Open({path_}));
  }
  static VideoJob Job(const std::string& id, int64_t created_seconds, int priority = 0,
                      const std::string& key = "") {
    VideoJob job;
    job.set_id(id);
    job.set_state(videogen::v1::JOB_STATE_QUEUED);
    job.mutable_create_time()->set_seconds(created_seconds);
    job.mutable_spec()->set_prompt("prompt of " + id);
    job.mutable_spec()->set_priority(priority);
    job.mutable_spec()->set_idempotency_key(key);
    return job;
  }
  static std::vector<std::string> Ids(const std::vector<VideoJob>& jobs) {
    std::vector<std::string> ids;
    for (const VideoJob& job : jobs) ids.push_back(job.id());
    return ids;
  }

  std::string path_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, CreateGetUpdateRoundTrip) {
  ASSERT_OK(store_->Create(Job("a", 10)).status());
  EXPECT_THAT(store_->Create(Job("a", 11)), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK_AND_ASSIGN(VideoJob job, store_->Get("a"));
  EXPECT_EQ(job.spec().prompt(), "prompt of a");
  job.set_state(videogen::v1::JOB_STATE_RUNNING);
  job.set_steps_done(7);
  ASSERT_OK(store_->Update(job));
  ASSERT_OK_AND_ASSIGN(const VideoJob again, store_->Get("a"));
  EXPECT_EQ(again.SerializeAsString(), job.SerializeAsString());
  EXPECT_THAT(store_->Get("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Update(Job("b", 1)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Create(Job("", 1)), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(store_->Delete("a"));
  EXPECT_THAT(store_->Get("a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Delete("a"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(JobStoreTest, IdempotencyKeyReturnsTheFirstJobOrConflicts) {
  ASSERT_OK(store_->Create(Job("a", 10, 0, "key-1")).status());
  bool deduplicated = false;
  VideoJob retry = Job("b", 11, 0, "key-1");
  retry.mutable_spec()->set_prompt("prompt of a");  // Same spec as job a.
  ASSERT_OK_AND_ASSIGN(const VideoJob found, store_->Create(retry, &deduplicated));
  EXPECT_TRUE(deduplicated);
  EXPECT_EQ(found.id(), "a");
  EXPECT_THAT(store_->Get("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Create(Job("c", 12, 0, "key-1")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("different spec")));
  // Jobs without a key never collide.
  ASSERT_OK(store_->Create(Job("d", 13)).status());
  ASSERT_OK(store_->Create(Job("e", 13)).status());
}

TEST_F(JobStoreTest, ListsPagesNewestFirstWithStateFilter) {
  for (int i = 0; i < 25; ++i) {
    VideoJob job = Job(absl::StrCat("job", i), 100 + i / 2);  // Pairs share a creation time.
    if (i % 5 == 0) job.set_state(videogen::v1::JOB_STATE_SUCCEEDED);
    ASSERT_OK(store_->Create(job).status());
  }
  std::vector<std::string> seen;
  JobStore::ListOptions options;
  options.page_size = 10;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(const JobStore::ListResult page, store_->List(options));
    for (const VideoJob& job : page.jobs) seen.push_back(job.id());
    options.page_token = page.next_page_token;
    ++pages;
  } while (!options.page_token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 25u);
  EXPECT_EQ(seen.front(), "job24");
  EXPECT_EQ(seen.back(), "job0");

  JobStore::ListOptions succeeded;
  succeeded.states = {videogen::v1::JOB_STATE_SUCCEEDED};
  ASSERT_OK_AND_ASSIGN(const JobStore::ListResult done, store_->List(succeeded));
  EXPECT_THAT(Ids(done.jobs), ElementsAre("job20", "job15", "job10", "job5", "job0"));

  JobStore::ListOptions bad;
  bad.page_token = "not-a-token";
  EXPECT_THAT(store_->List(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad.page_token.clear();
  bad.page_size = 0;
  EXPECT_THAT(store_->List(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(JobStoreTest, RecoverRequeuesInterruptedJobsUntilTheirAttemptsRunOut) {
  VideoJob low = Job("low", 10, -1), first = Job("first", 11, 5), second = Job("second", 12, 5);
  VideoJob done = Job("done", 9);
  done.set_state(videogen::v1::JOB_STATE_SUCCEEDED);
  for (const VideoJob& job : {low, first, second, done}) ASSERT_OK(store_->Create(job).status());
  for (VideoJob* job : {&first, &low}) {
    ASSERT_OK(store_->MarkStarted(job->id()));
    job->set_state(videogen::v1::JOB_STATE_RUNNING);
    job->set_stage(videogen::v1::JOB_STAGE_DENOISING);
    ASSERT_OK(store_->Update(*job));
  }
  ASSERT_OK(store_->MarkStarted("low"));  // Started twice: out of attempts at max 2.
  ASSERT_OK_AND_ASSIGN(const auto queued, store_->Recover(/*max_attempts=*/2));
  EXPECT_THAT(Ids(queued), ElementsAre("first", "second"));
  EXPECT_EQ(queued[0].stage(), videogen::v1::JOB_STAGE_UNSPECIFIED);
  ASSERT_OK_AND_ASSIGN(const VideoJob failed, store_->Get("low"));
  EXPECT_EQ(failed.state(), videogen::v1::JOB_STATE_FAILED);
  EXPECT_THAT(failed.error_message(), HasSubstr("interrupted by a server restart 2 times"));
  EXPECT_THAT(store_->MarkStarted("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(JobStoreTest, ExpiresOnlyFinishedJobsPastTheirRetention) {
  VideoJob old_done = Job("old", 1), new_done = Job("new", 2), queued = Job("queued", 3);
  old_done.set_state(videogen::v1::JOB_STATE_SUCCEEDED);
  old_done.mutable_output()->mutable_expire_time()->set_seconds(100);
  new_done.set_state(videogen::v1::JOB_STATE_FAILED);
  new_done.mutable_output()->mutable_expire_time()->set_seconds(300);
  queued.mutable_output()->mutable_expire_time()->set_seconds(50);  // Not finished: kept.
  for (const VideoJob& job : {old_done, new_done, queued}) ASSERT_OK(store_->Create(job).status());
  ASSERT_OK_AND_ASSIGN(const auto expired, store_->ExpireBefore(absl::FromUnixSeconds(200)));
  EXPECT_THAT(expired, ElementsAre("old"));
  EXPECT_THAT(store_->Get("old"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(store_->Get("new").status());
  EXPECT_OK(store_->Get("queued").status());
}

TEST_F(JobStoreTest, AcceptedJobSurvivesAKilledProcess) {
  store_.reset();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child: store a running job, then die without closing anything.
    absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open({path_});
    if (!store.ok()) _exit(1);
    VideoJob job = Job("crash", 10);
    if (!(*store)->Create(job).ok() || !(*store)->MarkStarted("crash").ok()) _exit(2);
    job.set_state(videogen::v1::JOB_STATE_RUNNING);
    if (!(*store)->Update(job).ok()) _exit(3);
    raise(SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  ASSERT_OK_AND_ASSIGN(store_, JobStore::Open({path_}));
  ASSERT_OK_AND_ASSIGN(const VideoJob job, store_->Get("crash"));
  EXPECT_EQ(job.state(), videogen::v1::JOB_STATE_RUNNING);
  ASSERT_OK_AND_ASSIGN(const auto queued, store_->Recover(3));
  EXPECT_THAT(Ids(queued), ElementsAre("crash"));
}

TEST_F(JobStoreTest, RefusesNewerSchemasAndNonDatabases) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT(JobStore::Open({path_}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("schema version 7")));

  const std::string junk = path_ + ".junk";
  FILE* file = std::fopen(junk.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fputs("this is not an SQLite database, just some text long enough to be read", file);
  std::fclose(file);
  EXPECT_THAT(JobStore::Open({junk}), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(JobStore::Open({"/nonexistent/dir/jobs.db"}), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace videogen::server
