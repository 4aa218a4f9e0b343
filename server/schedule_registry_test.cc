#include "server/schedule_registry.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;
using ::videogen::v1::Schedule;
using ::videogen::v1::ScheduleKey;

ScheduleKey Key(int height = 480, int width = 832, int frames = 33, int steps = 10) {
  ScheduleKey key;
  key.set_model_id("wan");
  key.set_height(height);
  key.set_width(width);
  key.set_frames(frames);
  key.set_steps(steps);
  return key;
}

// A searched schedule of `key` with `budget`: `budget` at every step (a grid value).
Schedule Searched(const ScheduleKey& key, float budget) {
  Schedule schedule;
  *schedule.mutable_key() = key;
  schedule.set_budget(budget);
  for (int t = 0; t < key.steps(); ++t) schedule.add_thetas(budget);
  schedule.set_searched(true);
  schedule.mutable_provenance()->set_search_id("search-1");
  schedule.mutable_provenance()->set_fitness_mse(0.25);
  return schedule;
}

class ScheduleRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db");
    ASSERT_OK_AND_ASSIGN(registry_, ScheduleRegistry::Open(path_));
  }
  std::string path_;
  std::unique_ptr<ScheduleRegistry> registry_;
};

TEST_F(ScheduleRegistryTest, PutAssignsIdVersionSpeedupAndChecksum) {
  ASSERT_OK_AND_ASSIGN(const Schedule first, registry_->Put(Searched(Key(), 0.5f)));
  EXPECT_EQ(first.id().size(), 32u);
  EXPECT_EQ(first.version(), 1);
  EXPECT_EQ(first.checksum().size(), 64u);
  EXPECT_GT(first.predicted_speedup(), 1.0f);
  // The same key and budget: a new version of the same id.
  Schedule again = Searched(Key(), 0.5f);
  again.mutable_provenance()->set_fitness_mse(0.125);
  ASSERT_OK_AND_ASSIGN(const Schedule second, registry_->Put(again));
  EXPECT_EQ(second.id(), first.id());
  EXPECT_EQ(second.version(), 2);
  ASSERT_OK_AND_ASSIGN(const Schedule latest, registry_->Get(first.id()));
  EXPECT_EQ(latest.version(), 2);
  ASSERT_OK_AND_ASSIGN(const Schedule old, registry_->Get(first.id(), 1));
  EXPECT_DOUBLE_EQ(old.provenance().fitness_mse(), 0.25);
  EXPECT_THAT(registry_->Get(first.id(), 3), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(registry_->Delete(first.id()));
  EXPECT_THAT(registry_->Get(first.id()), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(registry_->Delete(first.id()), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ScheduleRegistryTest, PutRejectsBadSchedulesNamingTheField) {
  const struct {
    std::function<void(Schedule&)> edit;
    const char* field;
  } cases[] = {
      {[](Schedule& s) { s.mutable_key()->set_model_id(""); }, "key.model_id"},
      {[](Schedule& s) { s.mutable_key()->set_height(470); }, "key.height"},
      {[](Schedule& s) { s.mutable_key()->set_frames(32); }, "key.frames"},
      {[](Schedule& s) { s.set_budget(1.5f); }, "budget"},
      {[](Schedule& s) { s.add_thetas(0.5f); }, "thetas has 11 values"},
      {[](Schedule& s) { s.set_thetas(3, 0.55f); }, "thetas[3]"},
      {[](Schedule& s) { s.set_budget(0.8f); }, "mean of thetas"},
      {[](Schedule& s) { s.mutable_provenance()->set_fitness_mse(-1); }, "fitness_mse"},
  };
  for (const auto& c : cases) {
    Schedule schedule = Searched(Key(), 0.5f);
    c.edit(schedule);
    EXPECT_THAT(registry_->Put(schedule),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.field;
  }
  // A value within 1e-4 of the grid is that grid value.
  Schedule near = Searched(Key(), 0.5f);
  near.set_thetas(0, 0.50004f);
  ASSERT_OK_AND_ASSIGN(const Schedule stored, registry_->Put(near));
  EXPECT_FLOAT_EQ(stored.thetas(0), 0.5f);
}

TEST_F(ScheduleRegistryTest, LookupSemantics) {
  ASSERT_OK(registry_->Put(Searched(Key(), 0.4f)).status());
  ASSERT_OK(registry_->Put(Searched(Key(), 0.6f)).status());
  ASSERT_OK(registry_->Put(Searched(Key(480, 832, 81), 0.5f)).status());
  ASSERT_OK(registry_->Put(Searched(Key(720, 1280, 81), 0.5f)).status());
  const struct {
    ScheduleKey key;
    float budget;
    videogen::v1::ScheduleMatch match;
    float schedule_budget;
    int frames;  // Of the schedule's key.
  } cases[] = {
      // Exact key: the largest budget not above the request.
      {Key(), 0.5f, videogen::v1::SCHEDULE_MATCH_EXACT_KEY, 0.4f, 33},
      {Key(), 0.6f, videogen::v1::SCHEDULE_MATCH_EXACT_KEY, 0.6f, 33},
      // A budget of 1 is dense, whatever is stored.
      {Key(), 1.0f, videogen::v1::SCHEDULE_MATCH_FALLBACK, 1.0f, 33},
      {Key(), 0.99f, videogen::v1::SCHEDULE_MATCH_EXACT_KEY, 0.6f, 33},
      // Below every stored budget of the key and of any other key: the fallback.
      {Key(), 0.3f, videogen::v1::SCHEDULE_MATCH_FALLBACK, 0.3f, 33},
      // No schedule for 49 frames: the nearest key (480x832x33 is closer than 81 frames).
      {Key(480, 832, 49), 0.5f, videogen::v1::SCHEDULE_MATCH_NEAREST_KEY, 0.4f, 33},
      {Key(480, 832, 65), 0.5f, videogen::v1::SCHEDULE_MATCH_NEAREST_KEY, 0.5f, 81},
      // Another step count never matches another key: the fallback.
      {Key(480, 832, 33, 12), 0.5f, videogen::v1::SCHEDULE_MATCH_FALLBACK, 0.5f, 33},
  };
  for (const auto& c : cases) {
    ASSERT_OK_AND_ASSIGN(const auto found, registry_->Lookup(c.key, c.budget));
    EXPECT_EQ(found.match, c.match) << c.key.ShortDebugString() << " " << c.budget;
    EXPECT_NEAR(found.schedule.budget(), c.schedule_budget, 1e-6) << c.key.ShortDebugString();
    EXPECT_EQ(found.schedule.key().frames(), c.frames) << c.key.ShortDebugString();
    EXPECT_EQ(found.schedule.thetas_size(), c.key.steps());
    EXPECT_EQ(found.schedule.searched(), c.match != videogen::v1::SCHEDULE_MATCH_FALLBACK);
  }
  // The fallback: dense ends, an empty id.
  ASSERT_OK_AND_ASSIGN(const auto fallback, registry_->Lookup(Key(480, 832, 33, 12), 0.5f));
  EXPECT_TRUE(fallback.schedule.id().empty());
  EXPECT_EQ(fallback.schedule.thetas(0), 1.0f);
  EXPECT_EQ(fallback.schedule.thetas(11), 1.0f);
  ASSERT_OK_AND_ASSIGN(const auto dense, registry_->Lookup(Key(16, 16, 1, 3), 1.0f));
  EXPECT_THAT(dense.schedule.thetas(), ElementsAre(1.0f, 1.0f, 1.0f));
  EXPECT_FLOAT_EQ(dense.schedule.predicted_speedup(), 1.0f);
  EXPECT_THAT(registry_->Lookup(Key(480, 832, 33, 3), 0.1f),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be met")));
  EXPECT_THAT(registry_->Lookup(Key(), 0.0f), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ScheduleRegistryTest, ACorruptedRowFailsItsChecksum) {
  ASSERT_OK_AND_ASSIGN(const Schedule stored, registry_->Put(Searched(Key(), 0.5f)));
  Schedule tampered = stored;
  tampered.set_thetas(0, 0.9f);  // Checksum left as it was.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* update = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE schedules SET record = ?1", -1, &update, nullptr),
            SQLITE_OK);
  const std::string bytes = tampered.SerializeAsString();
  sqlite3_bind_blob(update, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(update), SQLITE_DONE);
  sqlite3_finalize(update);
  sqlite3_close(db);
  EXPECT_THAT(registry_->Get(stored.id()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checksum")));
  EXPECT_THAT(registry_->Lookup(Key(), 0.5f), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(ScheduleRegistryTest, ListsPagesWithAFilterAndRoundTripsJson) {
  for (const float budget : {0.3f, 0.4f, 0.5f}) {
    ASSERT_OK(registry_->Put(Searched(Key(), budget)).status());
    ASSERT_OK(registry_->Put(Searched(Key(480, 832, 81), budget)).status());
  }
  ScheduleRegistry::ListOptions options;
  options.page_size = 2;
  options.filter.set_frames(81);
  ASSERT_OK_AND_ASSIGN(const auto first, registry_->List(options));
  ASSERT_EQ(first.schedules.size(), 2u);
  EXPECT_FLOAT_EQ(first.schedules[0].budget(), 0.3f);
  options.page_token = first.next_page_token;
  ASSERT_OK_AND_ASSIGN(const auto second, registry_->List(options));
  ASSERT_EQ(second.schedules.size(), 1u);
  EXPECT_TRUE(second.next_page_token.empty());
  options.page_token = "x";
  EXPECT_THAT(registry_->List(options), StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_OK_AND_ASSIGN(const std::string json, registry_->ExportJson());
  EXPECT_THAT(json, HasSubstr("\"model_id\": \"wan\""));
  ASSERT_OK_AND_ASSIGN(auto other, ScheduleRegistry::Open(path_ + ".copy"));
  ASSERT_OK_AND_ASSIGN(const int imported, other->ImportJson(json));
  EXPECT_EQ(imported, 6);
  ASSERT_OK_AND_ASSIGN(const auto found, other->Lookup(Key(), 0.45f));
  EXPECT_FLOAT_EQ(found.schedule.budget(), 0.4f);
  EXPECT_EQ(found.schedule.provenance().search_id(), "search-1");
  EXPECT_THAT(other->ImportJson("{\"schedules\": [{\"budget\": 2}]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("schedules[0]")));
  EXPECT_THAT(other->ImportJson("not json"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ScheduleRegistryTest, ReadersAndWritersInTwoConnectionsRunConcurrently) {
  ASSERT_OK_AND_ASSIGN(auto writer, ScheduleRegistry::Open(path_));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done) {
      const auto found = registry_->Lookup(Key(), 0.95f);
      ASSERT_TRUE(found.ok()) << found.status();
      ++reads;
    }
  });
  for (int i = 1; i <= 10; ++i) {
    ASSERT_OK(writer->Put(Searched(Key(), i / 10.0f)).status());
  }
  done = true;
  reader.join();
  EXPECT_GT(reads, 0);
  ASSERT_OK_AND_ASSIGN(const auto found, registry_->Lookup(Key(), 0.95f));
  EXPECT_FLOAT_EQ(found.schedule.budget(), 0.9f);
  EXPECT_EQ(found.match, videogen::v1::SCHEDULE_MATCH_EXACT_KEY);
}

}  // namespace
}  // namespace videogen::server
