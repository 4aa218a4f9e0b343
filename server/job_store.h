// The durable record of every admitted video job: videogen.v1.VideoJob protos in one SQLite
// database (WAL journal, synchronous=FULL), so an accepted job survives a crash or restart.
//
// Besides the serialized record, each row keeps the fields the server queries by (state,
// priority, creation time, idempotency key, result expiry) and the number of times the job was
// started. Thread-safe: one connection, guarded by a mutex.
#ifndef VIDEOGEN_SERVER_JOB_STORE_H_
#define VIDEOGEN_SERVER_JOB_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/video_job.pb.h"
#include "server/sqlite.h"

namespace videogen::server {

class JobStore {
 public:
  struct Options {
    std::string path;  // Database file, created if missing (its directory must exist).
  };
  struct ListOptions {
    int page_size = 50;                          // 1 to 1000.
    std::string page_token;                      // From the previous page; empty for the first.
    std::vector<videogen::v1::JobState> states;  // Only these states; empty for all.
  };
  struct ListResult {
    std::vector<videogen::v1::VideoJob> jobs;  // Newest first.
    std::string next_page_token;               // Empty on the last page.
  };

  // Opens (creating if needed) the database. NOT_FOUND if it cannot be opened; FAILED_PRECONDITION
  // for a database written by a newer schema; DATA_LOSS if it is not a database.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const Options& options);

  // Stores a new job (its `id` must be set). ALREADY_EXISTS if the id exists. If the spec has an
  // idempotency key that a stored job already has: returns that stored job when its spec is
  // identical (`*deduplicated` = true), else ALREADY_EXISTS. Specs are compared as given, so
  // callers normalise them first.
  absl::StatusOr<videogen::v1::VideoJob> Create(const videogen::v1::VideoJob& job,
                                                bool* deduplicated = nullptr);
  absl::StatusOr<videogen::v1::VideoJob> Get(const std::string& id) const;  // NOT_FOUND.
  // Replaces the record of `job.id()` atomically. NOT_FOUND if absent.
  absl::Status Update(const videogen::v1::VideoJob& job);
  // INVALID_ARGUMENT for a bad page size or page token.
  absl::StatusOr<ListResult> List(const ListOptions& options) const;

  // At startup: every RUNNING job (interrupted by a crash or restart) goes back to QUEUED, or to
  // FAILED with an explanation once it has been started `max_attempts` times. Returns the QUEUED
  // jobs in run order (higher priority first, then creation order) for the queue.
  absl::StatusOr<std::vector<videogen::v1::VideoJob>> Recover(int max_attempts);
  // Deletes the record of `id` (a job admission that could not be completed). NOT_FOUND if absent.
  absl::Status Delete(const std::string& id);
  // Records that `id` is starting (counts toward Recover's max_attempts). NOT_FOUND if absent.
  absl::Status MarkStarted(const std::string& id);
  // Deletes finished jobs whose result expired before `now`; returns their ids so the caller can
  // delete the result files.
  absl::StatusOr<std::vector<std::string>> ExpireBefore(absl::Time now);

 private:
  explicit JobStore(sqlite::Database db) : db_(std::move(db)) {}
  absl::Status Write(const videogen::v1::VideoJob& job, bool insert)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `sql` (one `?1` parameter, bound to `id`); NOT_FOUND if it changed no row.
  absl::Status ChangeRow(const char* sql, const std::string& id);

  mutable absl::Mutex mu_;
  const sqlite::Database db_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_JOB_STORE_H_
