// Schedule searches: admins submit videogen.v1.SearchJobSpec's, workers run them
// (search_worker/schedule_search.h) and publish each result to the schedule registry.
//
// The store, `data_dir`/searches.db (SQLite, WAL), is the only shared state, so the same data
// directory can be served by several processes: the server (which accepts, lists, cancels and
// streams searches) and workers, either the server itself (Options::run_worker, the small
// deployment) or `videogen_search_worker` processes. A worker claims the oldest queued search
// atomically and holds it with a lease it renews while running; a search whose lease ran out
// (its worker died) is claimed again and continues from its checkpoint,
// `data_dir`/searches/<id>.json, written after every generation. Cancellation is a flag in the
// store that the running worker reads; watchers follow progress and results through the store.
//
// Thread-safe. Sinks are called with the manager's lock held (see server/event_stream.h).
#ifndef VIDEOGEN_SERVER_SEARCH_MANAGER_H_
#define VIDEOGEN_SERVER_SEARCH_MANAGER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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

  // A model this process can run searches on: its pipeline and copies of it on other devices
  // (evaluated in parallel; search_worker/latent_fitness.h).
  struct Model {
    std::string name;
    const engine::wan::Pipeline* pipeline;                  // Outlives the manager.
    std::vector<const engine::wan::Pipeline*> replicas;     // Idem.
  };
  struct Options {
    bool run_worker = true;  // Run searches in this process (on `models`).
    // A running search whose worker has not renewed its lease for this long is claimed again.
    absl::Duration lease = absl::Seconds(60);
    // How often watchers and idle workers look at the store.
    absl::Duration poll = absl::Milliseconds(200);
  };

  // `registry` outlives the manager; `device_busy` (may be null) is polled between candidate
  // runs, and the search waits while it returns true. Opens the store and starts the watcher
  // poller and, with run_worker, the worker. The store's errors.
  static absl::StatusOr<std::unique_ptr<SearchManager>> Create(
      const videogen::v1::ServerConfig& config, std::vector<Model> models,
      ScheduleRegistry* registry, std::function<bool()> device_busy, Options options);
  ~SearchManager();

  // Validates (NormalizeSearchSpec; NOT_FOUND for a model the config does not serve) and queues.
  // RESOURCE_EXHAUSTED with kMaxQueued searches waiting; UNAVAILABLE after Stop().
  absl::StatusOr<videogen::v1::SearchJob> Submit(const videogen::v1::SearchJobSpec& spec);
  // NOT_FOUND for an unknown id.
  absl::StatusOr<videogen::v1::SearchJob> Get(const std::string& id) const;
  // A queued search is CANCELLED at once; a running one (in any process) after its worker's
  // current candidate run. Cancelling a CANCELLED search changes nothing; FAILED_PRECONDITION for
  // a finished one.
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

  // Stops the threads; a search this process runs stops after its current candidate run and is
  // queued again (with its checkpoint) for any worker.
  void Stop();

 private:
  struct Watched {
    std::vector<std::shared_ptr<SearchEventSink>> sinks;
    std::string progress;  // Serialized progress last sent.
  };

  SearchManager(const videogen::v1::ServerConfig& config, sqlite::Database db,
                std::vector<Model> models, ScheduleRegistry* registry,
                std::function<bool()> device_busy, Options options);
  void WorkerLoop();
  void PollLoop();
  // Claims the oldest queued search, or a running one whose lease expired.
  absl::StatusOr<std::optional<std::string>> Claim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunSearch(const std::string& id);
  // Renews the lease of `id` and returns whether its cancel flag is set.
  absl::StatusOr<bool> Heartbeat(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Store(const videogen::v1::SearchJob& search) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<videogen::v1::SearchJob> Load(const std::string& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string CheckpointPath(const std::string& id) const;

  const videogen::v1::ServerConfig config_;
  const sqlite::Database db_;
  const std::vector<Model> models_;
  ScheduleRegistry* const registry_;
  const std::function<bool()> device_busy_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t submissions_ ABSL_GUARDED_BY(mu_) = 0;  // Wakes an idle local worker.
  absl::flat_hash_map<std::string, Watched> watched_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
  std::thread poller_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_SEARCH_MANAGER_H_
