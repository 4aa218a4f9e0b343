#include "server/job_queue.h"

#include <iterator>

#include "absl/strings/str_cat.h"

namespace videogen::server {

absl::StatusOr<std::unique_ptr<JobQueue>> JobQueue::Create(const Options& options) {
  if (options.max_queued_jobs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queued_jobs must be >= 1, got ", options.max_queued_jobs));
  }
  return std::unique_ptr<JobQueue>(new JobQueue(options));
}

absl::Status JobQueue::Push(const std::string& id, int priority) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("the job queue is closed (server shutting down)");
  if (queued_.contains(id)) return absl::AlreadyExistsError(absl::StrCat("job ", id, " is queued"));
  if (static_cast<int>(queued_.size()) >= options_.max_queued_jobs) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the job queue is full (", options_.max_queued_jobs, " jobs); retry later"));
  }
  const Entry entry{priority, next_sequence_++, id};
  order_.insert(entry);
  queued_.emplace(id, entry);
  return absl::OkStatus();
}

std::optional<std::string> JobQueue::Pop(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const auto ready = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !order_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (closed_ || order_.empty()) return std::nullopt;
  Entry next = *order_.begin();
  order_.erase(order_.begin());
  queued_.erase(next.id);
  return std::move(next.id);
}

absl::Status JobQueue::Remove(const std::string& id) {
  absl::MutexLock lock(&mu_);
  const auto it = queued_.find(id);
  if (it == queued_.end()) return absl::NotFoundError(absl::StrCat("job ", id, " is not queued"));
  order_.erase(it->second);
  queued_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<int> JobQueue::Position(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  const auto it = queued_.find(id);
  if (it == queued_.end()) return absl::NotFoundError(absl::StrCat("job ", id, " is not queued"));
  // Linear in the queue length, which is bounded by max_queued_jobs.
  return static_cast<int>(std::distance(order_.begin(), order_.find(it->second))) + 1;
}

int JobQueue::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queued_.size());
}

void JobQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace videogen::server
