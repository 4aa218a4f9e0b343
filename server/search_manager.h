// Schedule searches hosted by the server (the small-deployment form of the search worker): admins
// submit videogen.v1.SearchJobSpec's; one worker thread runs them in submission order on the
// server's loaded models (search_worker/schedule_search.h), yielding the device to video jobs
// between candidate runs, and publishes each result to the schedule registry.
//
// Durability: search records live in `data_dir`/searches.db (SQLite, WAL) and each running
// search checkpoints after every generation to `data_dir`/searches/<id>.json. After a crash or
// restart, queued and interrupted searches are queued again and continue from their checkpoints.
//
// Thread-safe. Sinks are called with the manager's lock held (see server/event_stream.h).
#ifndef VIDEOGEN_SERVER_SEARCH_MANAGER_H_
#define VIDEOGEN_SERVER_SEARCH_MANAGER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/wan/pipeline.h"
#include "proto/search_job.pb.h"
#include "proto/server_config.pb.h"
#include "server/event_stream.h"
#include "server/schedule_registry.h"
#include "server/sqlite.h"

namespace videogen::server {

using SearchEventSink = EventSink<videogen::v1::SearchEvent>;

class SearchManager {
 public:
  // Searches that may wait at once; SubmitSearch beyond this is RESOURCE_EXHAUSTED.
  static constexpr int kMaxQueued = 16;

  struct Model {
    std::string name;
    const engine::wan::Pipeline* pipeline;  // Outlives the manager.
  };
  // `registry` outlives the manager; `device_busy` (may be null) is polled between candidate
  // runs, and the search waits while it returns true. Opens the store, re-queues unfinished
  // searches and starts the worker. The store's errors.
  static absl::StatusOr<std::unique_ptr<SearchManager>> Create(
      const videogen::v1::ServerConfig& config, std::vector<Model> models,
      ScheduleRegistry* registry, std::function<bool()> device_busy);
  ~SearchManager();

  // Validates (NormalizeSearchSpec; NOT_FOUND for a model the server does not serve) and queues.
  absl::StatusOr<videogen::v1::SearchJob> Submit(const videogen::v1::SearchJobSpec& spec);
  // NOT_FOUND for an unknown id.
  absl::StatusOr<videogen::v1::SearchJob> Get(const std::string& id) const;
  // A queued search is CANCELLED at once; a running one after its current candidate run.
  // Cancelling a CANCELLED search changes nothing; FAILED_PRECONDITION for a finished one.
  absl::StatusOr<videogen::v1::SearchJob> Cancel(const std::string& id);
  struct ListResult {
    std::vector<videogen::v1::SearchJob> searches;  // Newest first.
    std::string next_page_token;
  };
  // INVALID_ARGUMENT for a page size outside [1, 1000] or a bad token.
  absl::StatusOr<ListResult> List(int page_size, const std::string& page_token,
                                  const std::vector<videogen::v1::SearchState>& states) const;
  // The current record; unless finished, `sink` then receives progress and the final record.
  absl::StatusOr<videogen::v1::SearchJob> Watch(const std::string& id,
                                                std::shared_ptr<SearchEventSink> sink);
  void Unwatch(const std::string& id, const SearchEventSink* sink);

  // Stops the worker; a running search stops after its current candidate run and stays queued
  // (with its checkpoint) for the next start.
  void Stop();

 private:
  SearchManager(const videogen::v1::ServerConfig& config, sqlite::Database db,
                std::vector<Model> models, ScheduleRegistry* registry,
                std::function<bool()> device_busy);
  void WorkerLoop();
  void RunSearch(const std::string& id);
  absl::Status Store(const videogen::v1::SearchJob& search) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<videogen::v1::SearchJob> Load(const std::string& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(const std::string& id, const videogen::v1::SearchEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string CheckpointPath(const std::string& id) const;

  const videogen::v1::ServerConfig config_;
  const sqlite::Database db_;
  const std::vector<Model> models_;
  ScheduleRegistry* const registry_;
  const std::function<bool()> device_busy_;

  mutable absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::string running_ ABSL_GUARDED_BY(mu_);
  bool cancel_running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::vector<std::shared_ptr<SearchEventSink>>> sinks_
      ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_SEARCH_MANAGER_H_
