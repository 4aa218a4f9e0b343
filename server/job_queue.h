// The bounded queue of admitted jobs waiting for an engine group, ordered by priority (higher
// first) and then arrival. Holds job ids only; the job records live in the job store.
//
// Thread-safe. Pop() blocks until a job is queued or the queue is closed.
#ifndef VIDEOGEN_SERVER_JOB_QUEUE_H_
#define VIDEOGEN_SERVER_JOB_QUEUE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace videogen::server {

class JobQueue {
 public:
  struct Options {
    int max_queued_jobs = 64;  // Push() fails with RESOURCE_EXHAUSTED beyond this; >= 1.
  };
  // INVALID_ARGUMENT for a bad option.
  static absl::StatusOr<std::unique_ptr<JobQueue>> Create(const Options& options);

  // Queues `id` with `priority`. RESOURCE_EXHAUSTED if full, ALREADY_EXISTS if `id` is queued,
  // UNAVAILABLE after Close().
  absl::Status Push(const std::string& id, int priority);
  // The next job by (priority, arrival), waiting up to `timeout` (absl::InfiniteDuration() to
  // wait for ever); nullopt on timeout or once the queue is closed.
  std::optional<std::string> Pop(absl::Duration timeout = absl::InfiniteDuration());
  // Removes a queued job (cancellation). NOT_FOUND if `id` is not queued.
  absl::Status Remove(const std::string& id);
  // 1-based position of `id` in the run order; NOT_FOUND if it is not queued.
  absl::StatusOr<int> Position(const std::string& id) const;
  int size() const;
  // Wakes every waiting Pop() and refuses further pushes; queued ids stay listed (the store
  // keeps them QUEUED for the next start).
  void Close();

 private:
  // Run order: higher priority first, then lower arrival sequence.
  struct Entry {
    int priority;
    int64_t sequence;
    std::string id;
    bool operator<(const Entry& other) const {
      if (priority != other.priority) return priority > other.priority;
      return sequence < other.sequence;
    }
  };

  explicit JobQueue(const Options& options) : options_(options) {}

  const Options options_;
  mutable absl::Mutex mu_;
  std::set<Entry> order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Entry> queued_ ABSL_GUARDED_BY(mu_);
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_JOB_QUEUE_H_
