#include "server/job_store.h"

#include "server/sqlite.h"

#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace videogen::server {
namespace {

using ::videogen::v1::JobState;
using ::videogen::v1::VideoJob;
using sqlite::Exec;
using sqlite::Statement;
using sqlite::Transaction;

constexpr int kSchemaVersion = 1;

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

absl::StatusOr<VideoJob> ParseJob(const std::string& bytes) {
  VideoJob job;
  if (!job.ParseFromString(bytes)) return absl::DataLossError("job store: unreadable job record");
  return job;
}

bool Terminal(JobState state) {
  return state == videogen::v1::JOB_STATE_SUCCEEDED || state == videogen::v1::JOB_STATE_FAILED ||
         state == videogen::v1::JOB_STATE_CANCELLED;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const Options& options) {
  absl::StatusOr<sqlite::Database> db = sqlite::Open(
      options.path, "job store", kSchemaVersion,
      {"CREATE TABLE jobs (id TEXT PRIMARY KEY, state INTEGER NOT NULL, priority INTEGER "
       "NOT NULL, create_micros INTEGER NOT NULL, idempotency_key TEXT, expire_micros "
       "INTEGER, attempts INTEGER NOT NULL DEFAULT 0, record BLOB NOT NULL)",
       "CREATE UNIQUE INDEX jobs_by_key ON jobs(idempotency_key) WHERE idempotency_key "
       "IS NOT NULL",
       "CREATE INDEX jobs_by_state ON jobs(state, priority, create_micros)"});
  if (!db.ok()) return db.status();
  return std::unique_ptr<JobStore>(new JobStore(*std::move(db)));
}



absl::Status JobStore::Write(const VideoJob& job, bool insert) {
  Statement statement(
      db_.get(), insert ? "INSERT INTO jobs (state, priority, create_micros, idempotency_key, "
                    "expire_micros, record, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                  : "UPDATE jobs SET state = ?1, priority = ?2, create_micros = ?3, "
                    "idempotency_key = ?4, expire_micros = ?5, record = ?6 WHERE id = ?7");
  if (absl::Status s = statement.Prepared(); !s.ok()) return s;
  statement.Bind(1, job.state()).Bind(2, job.spec().priority()).Bind(3, Micros(job.create_time()));
  if (job.spec().idempotency_key().empty()) {
    statement.BindNull(4);
  } else {
    statement.Bind(4, job.spec().idempotency_key());
  }
  if (job.output().has_expire_time()) {
    statement.Bind(5, Micros(job.output().expire_time()));
  } else {
    statement.BindNull(5);
  }
  statement.BindBlob(6, job.SerializeAsString()).Bind(7, job.id());
  if (absl::Status s = statement.Run(); !s.ok()) return s;
  if (!insert && sqlite3_changes(db_.get()) == 0) {
    return absl::NotFoundError(absl::StrCat("job ", job.id(), " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<VideoJob> JobStore::Create(const VideoJob& job, bool* deduplicated) {
  if (job.id().empty()) return absl::InvalidArgumentError("job store: the job has no id");
  absl::MutexLock lock(&mu_);
  if (deduplicated != nullptr) *deduplicated = false;
  VideoJob result = job;
  const absl::Status status = Transaction(db_.get(), [&]() -> absl::Status {
    Statement existing(db_.get(),
                       "SELECT id, record, idempotency_key FROM jobs WHERE id = ?1 OR "
                       "(idempotency_key IS NOT NULL AND idempotency_key = ?2)");
    if (absl::Status s = existing.Prepared(); !s.ok()) return s;
    existing.Bind(1, job.id()).Bind(2, job.spec().idempotency_key());
    absl::StatusOr<bool> row = existing.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Write(job, /*insert=*/true);
    if (existing.Text(0) == job.id()) {
      return absl::AlreadyExistsError(absl::StrCat("job ", job.id(), " already exists"));
    }
    absl::StatusOr<VideoJob> stored = ParseJob(existing.Blob(1));
    if (!stored.ok()) return stored.status();
    if (stored->spec().SerializeAsString() != job.spec().SerializeAsString()) {
      return absl::AlreadyExistsError(
          absl::StrCat("idempotency key \"", job.spec().idempotency_key(), "\" was used by job ",
                       stored->id(), " with a different spec"));
    }
    result = *std::move(stored);
    if (deduplicated != nullptr) *deduplicated = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<VideoJob> JobStore::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  Statement statement(db_.get(), "SELECT record FROM jobs WHERE id = ?1");
  if (absl::Status s = statement.Prepared(); !s.ok()) return s;
  statement.Bind(1, id);
  absl::StatusOr<bool> row = statement.Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  return ParseJob(statement.Blob(0));
}

absl::Status JobStore::Update(const VideoJob& job) {
  absl::MutexLock lock(&mu_);
  return Write(job, /*insert=*/false);
}

absl::Status JobStore::ChangeRow(const char* sql, const std::string& id) {
  absl::MutexLock lock(&mu_);
  Statement statement(db_.get(), sql);
  if (absl::Status s = statement.Prepared(); !s.ok()) return s;
  statement.Bind(1, id);
  if (absl::Status s = statement.Run(); !s.ok()) return s;
  if (sqlite3_changes(db_.get()) == 0) return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  return absl::OkStatus();
}

absl::Status JobStore::Delete(const std::string& id) {
  return ChangeRow("DELETE FROM jobs WHERE id = ?1", id);
}

absl::Status JobStore::MarkStarted(const std::string& id) {
  return ChangeRow("UPDATE jobs SET attempts = attempts + 1 WHERE id = ?1", id);
}

absl::StatusOr<JobStore::ListResult> JobStore::List(const ListOptions& options) const {
  if (options.page_size < 1 || options.page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size = ", options.page_size, " is outside [1, 1000]"));
  }
  // The token is the (create_micros, rowid) of the last job of the previous page.
  int64_t after_micros = INT64_MAX, after_row = INT64_MAX;
  if (!options.page_token.empty()) {
    const std::vector<std::string> parts = absl::StrSplit(options.page_token, '.');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_micros) ||
        !absl::SimpleAtoi(parts[1], &after_row)) {
      return absl::InvalidArgumentError("page_token is not one this server issued");
    }
  }
  std::string sql =
      "SELECT record, create_micros, rowid FROM jobs WHERE (create_micros, rowid) < (?1, ?2)";
  if (!options.states.empty()) {
    std::vector<std::string> placeholders;
    for (size_t i = 0; i < options.states.size(); ++i)
      placeholders.push_back(absl::StrCat("?", i + 4));
    absl::StrAppend(&sql, " AND state IN (", absl::StrJoin(placeholders, ", "), ")");
  }
  absl::StrAppend(&sql, " ORDER BY create_micros DESC, rowid DESC LIMIT ?3");
  absl::MutexLock lock(&mu_);
  Statement statement(db_.get(), sql);
  if (absl::Status s = statement.Prepared(); !s.ok()) return s;
  statement.Bind(1, after_micros).Bind(2, after_row).Bind(3, options.page_size + 1);
  for (size_t i = 0; i < options.states.size(); ++i)
    statement.Bind(static_cast<int>(i) + 4, options.states[i]);
  ListResult result;
  std::string last_token;
  while (true) {
    absl::StatusOr<bool> row = statement.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(result.jobs.size()) == options.page_size) {
      result.next_page_token = last_token;
      break;
    }
    absl::StatusOr<VideoJob> job = ParseJob(statement.Blob(0));
    if (!job.ok()) return job.status();
    result.jobs.push_back(*std::move(job));
    last_token = absl::StrCat(statement.Int(1), ".", statement.Int(2));
  }
  return result;
}

absl::StatusOr<std::vector<VideoJob>> JobStore::Recover(int max_attempts) {
  absl::MutexLock lock(&mu_);
  std::vector<VideoJob> queued;
  const absl::Status status = Transaction(db_.get(), [&]() -> absl::Status {
    Statement running(db_.get(), "SELECT record, attempts FROM jobs WHERE state = ?1");
    if (absl::Status s = running.Prepared(); !s.ok()) return s;
    running.Bind(1, videogen::v1::JOB_STATE_RUNNING);
    std::vector<VideoJob> interrupted;
    while (true) {
      absl::StatusOr<bool> row = running.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      absl::StatusOr<VideoJob> job = ParseJob(running.Blob(0));
      if (!job.ok()) return job.status();
      job->set_stage(videogen::v1::JOB_STAGE_UNSPECIFIED);
      if (running.Int(1) >= max_attempts) {
        job->set_state(videogen::v1::JOB_STATE_FAILED);
        job->set_error_code(static_cast<int32_t>(absl::StatusCode::kAborted));
        job->set_error_message(absl::StrCat("interrupted by a server restart ", running.Int(1),
                                            " times; not retried again"));
      } else {
        job->set_state(videogen::v1::JOB_STATE_QUEUED);
      }
      interrupted.push_back(*std::move(job));
    }
    for (const VideoJob& job : interrupted) {
      if (absl::Status s = Write(job, /*insert=*/false); !s.ok()) return s;
    }
    Statement waiting(db_.get(),
                      "SELECT record FROM jobs WHERE state = ?1 "
                      "ORDER BY priority DESC, create_micros ASC, rowid ASC");
    if (absl::Status s = waiting.Prepared(); !s.ok()) return s;
    waiting.Bind(1, videogen::v1::JOB_STATE_QUEUED);
    while (true) {
      absl::StatusOr<bool> row = waiting.Step();
      if (!row.ok()) return row.status();
      if (!*row) return absl::OkStatus();
      absl::StatusOr<VideoJob> job = ParseJob(waiting.Blob(0));
      if (!job.ok()) return job.status();
      queued.push_back(*std::move(job));
    }
  });
  if (!status.ok()) return status;
  return queued;
}

absl::StatusOr<std::vector<std::string>> JobStore::ExpireBefore(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> expired;
  const absl::Status status = Transaction(db_.get(), [&]() -> absl::Status {
    Statement select(db_.get(), "SELECT id, state FROM jobs WHERE expire_micros < ?1");
    if (absl::Status s = select.Prepared(); !s.ok()) return s;
    select.Bind(1, absl::ToUnixMicros(now));
    while (true) {
      absl::StatusOr<bool> row = select.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (Terminal(static_cast<JobState>(select.Int(1)))) expired.push_back(select.Text(0));
    }
    for (const std::string& id : expired) {
      Statement remove(db_.get(), "DELETE FROM jobs WHERE id = ?1");
      if (absl::Status s = remove.Prepared(); !s.ok()) return s;
      remove.Bind(1, id);
      if (absl::Status s = remove.Run(); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return expired;
}

}  // namespace videogen::server
