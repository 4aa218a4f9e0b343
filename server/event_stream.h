// A server-streaming reactor that forwards the events of one job or search to a client: the
// producer (JobManager, SearchManager) delivers events through the stream's sink while it is
// subscribed; the stream writes them in order, keeps only the newest of consecutive progress
// events a slow reader has not taken yet, and finishes with OK after the final event.
//
// Use: create it in the RPC handler, subscribe sink() to the producer, set the cancel/done hooks,
// then Begin() with the first events (or Abort() with an error); return it to gRPC. The producer
// calls the sink under its own lock: the sink only queues (lock order: producer, then stream).
#ifndef VIDEOGEN_SERVER_EVENT_STREAM_H_
#define VIDEOGEN_SERVER_EVENT_STREAM_H_

#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "server/grpc_status.h"

namespace videogen::server {

// Receives the events of one watched job or search. Nothing follows the final event.
template <typename Event>
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnEvent(const Event& event) = 0;
};

// `IsProgress(event)`: may be replaced by a newer progress event; `IsFinal(event)`: the last one.
template <typename Event, bool (*IsProgress)(const Event&), bool (*IsFinal)(const Event&)>
class EventStream final : public grpc::ServerWriteReactor<Event> {
 public:
  EventStream() : sink_(std::make_shared<Sink>(this)) {}

  std::shared_ptr<EventSink<Event>> sink() const { return sink_; }

  // `on_cancel` runs when the call is cancelled (client gone, deadline, server shutdown);
  // `on_done` once the call is over, before the stream is deleted (unsubscribe there).
  void SetHooks(std::function<void()> on_cancel, std::function<void()> on_done) {
    on_cancel_ = std::move(on_cancel);
    on_done_ = std::move(on_done);
  }

  // Sends `first` and then whatever the sink received since the subscription. If `first` ends
  // with a final event, the sink's events are dropped (the producer had already finished).
  void Begin(std::vector<Event> first) {
    absl::MutexLock lock(&mu_);
    if (!first.empty() && IsFinal(first.back())) pending_.clear();
    for (auto it = first.rbegin(); it != first.rend(); ++it) pending_.push_front(std::move(*it));
    started_ = true;
    WriteNextLocked();
  }

  // Ends the stream with `status` before Begin().
  void Abort(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(ToGrpcStatus(status));
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {  // The client is gone; OnCancel() runs the cancel hook.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
    } else if (IsFinal(current_)) {
      FinishLocked(grpc::Status::OK);
    } else {
      WriteNextLocked();
    }
  }

  void OnCancel() override {
    if (on_cancel_) on_cancel_();
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }

  void OnDone() override {
    if (on_done_) on_done_();
    delete this;
  }

 private:
  class Sink final : public EventSink<Event> {
   public:
    explicit Sink(EventStream* stream) : stream_(stream) {}
    void OnEvent(const Event& event) override { stream_->Enqueue(event); }

   private:
    EventStream* const stream_;
  };

  void Enqueue(const Event& event) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (IsProgress(event) && !pending_.empty() && IsProgress(pending_.back())) {
      pending_.back() = event;  // The reader has not taken the older progress: drop it.
    } else {
      pending_.push_back(event);
    }
    if (started_) WriteNextLocked();
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || pending_.empty()) return;
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    this->StartWrite(&current_);
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  const std::shared_ptr<Sink> sink_;
  std::function<void()> on_cancel_, on_done_;
  absl::Mutex mu_;
  std::deque<Event> pending_ ABSL_GUARDED_BY(mu_);
  Event current_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_EVENT_STREAM_H_
