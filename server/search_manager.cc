#include "server/search_manager.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/common/logging.h"
#include "engine/common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "search_worker/schedule_search.h"
#include "server/random_id.h"

namespace videogen::server {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::videogen::v1::SearchEvent;
using ::videogen::v1::SearchJob;
using ::videogen::v1::SearchState;
using sqlite::Statement;

constexpr int kSchemaVersion = 1;

bool Finished(SearchState state) {
  return state == videogen::v1::SEARCH_STATE_SUCCEEDED ||
         state == videogen::v1::SEARCH_STATE_FAILED ||
         state == videogen::v1::SEARCH_STATE_CANCELLED;
}

SearchEvent EventFor(const std::string& id) {
  SearchEvent event;
  event.set_search_id(id);
  *event.mutable_event_time() = TimeUtil::GetCurrentTime();
  return event;
}

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

}  // namespace

absl::StatusOr<std::unique_ptr<SearchManager>> SearchManager::Create(
    const videogen::v1::ServerConfig& config, std::vector<Model> models,
    ScheduleRegistry* registry, std::function<bool()> device_busy, Options options) {
  std::error_code error;
  std::filesystem::create_directories(config.data_dir() + "/searches", error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", config.data_dir(),
                                                      "/searches: ", error.message()));
  }
  absl::StatusOr<sqlite::Database> db = sqlite::Open(
      config.data_dir() + "/searches.db", "search store", kSchemaVersion,
      {"CREATE TABLE searches (id TEXT PRIMARY KEY, state INTEGER NOT NULL, create_micros "
       "INTEGER NOT NULL, lease_micros INTEGER NOT NULL DEFAULT 0, cancel INTEGER NOT NULL "
       "DEFAULT 0, record BLOB NOT NULL)",
       "CREATE INDEX searches_by_state ON searches(state, create_micros)"});
  if (!db.ok()) return db.status();
  std::unique_ptr<SearchManager> manager(
      new SearchManager(config, *std::move(db), std::move(models), registry,
                        std::move(device_busy), options));
  manager->poller_ = std::thread([m = manager.get()] { m->PollLoop(); });
  if (options.run_worker) manager->worker_ = std::thread([m = manager.get()] { m->WorkerLoop(); });
  return manager;
}

SearchManager::SearchManager(const videogen::v1::ServerConfig& config, sqlite::Database db,
                             std::vector<Model> models, ScheduleRegistry* registry,
                             std::function<bool()> device_busy, Options options)
    : config_(config),
      db_(std::move(db)),
      models_(std::move(models)),
      registry_(registry),
      device_busy_(std::move(device_busy)),
      options_(options) {}

SearchManager::~SearchManager() { Stop(); }

void SearchManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
  if (poller_.joinable()) poller_.join();
}

std::string SearchManager::CheckpointPath(const std::string& id) const {
  return absl::StrCat(config_.data_dir(), "/searches/", id, ".json");
}

absl::Status SearchManager::Store(const SearchJob& search) {
  Statement update(db_.get(), "UPDATE searches SET state = ?1, record = ?2 WHERE id = ?3");
  VG_RETURN_IF_ERROR(update.Prepared());
  update.Bind(1, search.state()).BindBlob(2, search.SerializeAsString()).Bind(3, search.id());
  return update.Run();
}

absl::StatusOr<SearchJob> SearchManager::Load(const std::string& id) const {
  Statement select(db_.get(), "SELECT record FROM searches WHERE id = ?1");
  VG_RETURN_IF_ERROR(select.Prepared());
  select.Bind(1, id);
  VG_ASSIGN_OR_RETURN(const bool found, select.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("search ", id, " not found"));
  SearchJob search;
  if (!search.ParseFromString(select.Blob(0))) {
    return absl::DataLossError(absl::StrCat("search ", id, ": unreadable record"));
  }
  return search;
}

absl::StatusOr<SearchJob> SearchManager::Submit(const videogen::v1::SearchJobSpec& input) {
  const bool served = std::any_of(config_.models().begin(), config_.models().end(),
                                  [&](const auto& model) {
                                    return model.name() == input.key().model_id();
                                  });
  if (!served) {
    return absl::NotFoundError(
        absl::StrCat("model \"", input.key().model_id(), "\" is not served here"));
  }
  VG_ASSIGN_OR_RETURN(const videogen::v1::SearchJobSpec spec,
                      search_worker::NormalizeSearchSpec(input, std::random_device{}()));
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  SearchJob search;
  search.set_id(RandomHexId());
  *search.mutable_spec() = spec;
  search.set_state(videogen::v1::SEARCH_STATE_QUEUED);
  *search.mutable_create_time() = TimeUtil::GetCurrentTime();
  VG_RETURN_IF_ERROR(sqlite::Transaction(db_.get(), [&]() -> absl::Status {
    Statement count(db_.get(), "SELECT COUNT(*) FROM searches WHERE state = ?1");
    VG_RETURN_IF_ERROR(count.Prepared());
    count.Bind(1, videogen::v1::SEARCH_STATE_QUEUED);
    VG_RETURN_IF_ERROR(count.Step().status());
    if (count.Int(0) >= kMaxQueued) {
      return absl::ResourceExhaustedError(
          absl::StrCat(kMaxQueued, " searches are already queued; retry later"));
    }
    Statement insert(db_.get(),
                     "INSERT INTO searches (id, state, create_micros, record) VALUES (?1, ?2, ?3, "
                     "?4)");
    VG_RETURN_IF_ERROR(insert.Prepared());
    insert.Bind(1, search.id()).Bind(2, search.state());
    insert.Bind(3, TimeUtil::TimestampToMicroseconds(search.create_time()));
    insert.BindBlob(4, search.SerializeAsString());
    return insert.Run();
  }));
  ++submissions_;
  GetLogger(kServerLogger)->info("search {} queued: {} budgets for {}", search.id(),
                                 spec.budgets_size(), spec.key().ShortDebugString());
  return search;
}

absl::StatusOr<SearchJob> SearchManager::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  return Load(id);
}

absl::StatusOr<SearchJob> SearchManager::Cancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  SearchJob search;
  VG_RETURN_IF_ERROR(sqlite::Transaction(db_.get(), [&]() -> absl::Status {
    VG_ASSIGN_OR_RETURN(search, Load(id));
    if (search.state() == videogen::v1::SEARCH_STATE_CANCELLED) return absl::OkStatus();
    if (Finished(search.state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("search ", id, " already finished (",
                       videogen::v1::SearchState_Name(search.state()), ")"));
    }
    if (search.state() == videogen::v1::SEARCH_STATE_RUNNING) {
      // Its worker (in whatever process) reads the flag.
      Statement flag(db_.get(), "UPDATE searches SET cancel = 1 WHERE id = ?1");
      VG_RETURN_IF_ERROR(flag.Prepared());
      return flag.Bind(1, id).Run();
    }
    search.set_state(videogen::v1::SEARCH_STATE_CANCELLED);
    search.set_error_code(static_cast<int>(absl::StatusCode::kCancelled));
    search.set_error_message("cancelled while queued");
    *search.mutable_finish_time() = TimeUtil::GetCurrentTime();
    return Store(search);
  }));
  return search;
}

absl::StatusOr<SearchManager::ListResult> SearchManager::List(
    int page_size, const std::string& page_token,
    const std::vector<SearchState>& states) const {
  if (page_size < 1 || page_size > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size = ", page_size, " is outside [1, 1000]"));
  }
  int64_t offset = 0;
  if (!page_token.empty() && (!absl::SimpleAtoi(page_token, &offset) || offset < 0)) {
    return absl::InvalidArgumentError("page_token is not one this server returned");
  }
  std::string filter;
  for (const SearchState state : states) {
    absl::StrAppend(&filter, filter.empty() ? "" : ",", static_cast<int>(state));
  }
  absl::MutexLock lock(&mu_);
  Statement select(db_.get(), absl::StrCat("SELECT record FROM searches",
                                           filter.empty() ? "" : " WHERE state IN (" + filter + ")",
                                           " ORDER BY create_micros DESC, id LIMIT ?1 OFFSET ?2"));
  VG_RETURN_IF_ERROR(select.Prepared());
  select.Bind(1, page_size + 1).Bind(2, offset);
  ListResult result;
  while (true) {
    VG_ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    if (static_cast<int>(result.searches.size()) == page_size) {
      result.next_page_token = absl::StrCat(offset + page_size);
      break;
    }
    if (!result.searches.emplace_back().ParseFromString(select.Blob(0))) {
      return absl::DataLossError("search store: unreadable record");
    }
  }
  return result;
}

absl::StatusOr<SearchJob> SearchManager::Watch(const std::string& id,
                                               std::shared_ptr<SearchEventSink> sink) {
  absl::MutexLock lock(&mu_);
  VG_ASSIGN_OR_RETURN(SearchJob search, Load(id));
  if (!Finished(search.state())) {
    Watched& watched = watched_[id];
    if (watched.sinks.empty()) watched.progress = search.progress().SerializeAsString();
    watched.sinks.push_back(std::move(sink));
  }
  return search;
}

void SearchManager::Unwatch(const std::string& id, const SearchEventSink* sink) {
  absl::MutexLock lock(&mu_);
  const auto it = watched_.find(id);
  if (it == watched_.end()) return;
  auto& sinks = it->second.sinks;
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                             [&](const auto& s) { return s.get() == sink; }),
              sinks.end());
  if (sinks.empty()) watched_.erase(it);
}

void SearchManager::PollLoop() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll)) {
    for (auto it = watched_.begin(); it != watched_.end();) {
      absl::StatusOr<SearchJob> search = Load(it->first);
      if (!search.ok()) {
        ++it;
        continue;
      }
      Watched& watched = it->second;
      std::string progress = search->progress().SerializeAsString();
      if (progress != watched.progress && search->has_progress()) {
        SearchEvent event = EventFor(it->first);
        *event.mutable_progress() = search->progress();
        for (const auto& sink : watched.sinks) sink->OnEvent(event);
        watched.progress = std::move(progress);
      }
      if (Finished(search->state())) {
        SearchEvent event = EventFor(it->first);
        *event.mutable_result() = *search;
        for (const auto& sink : watched.sinks) sink->OnEvent(event);
        watched_.erase(it++);
      } else {
        ++it;
      }
    }
  }
}

absl::StatusOr<std::optional<std::string>> SearchManager::Claim() {
  std::optional<std::string> claimed;
  VG_RETURN_IF_ERROR(sqlite::Transaction(db_.get(), [&]() -> absl::Status {
    Statement next(db_.get(),
                   "SELECT id FROM searches WHERE state = ?1 OR (state = ?2 AND lease_micros < "
                   "?3) ORDER BY create_micros LIMIT 1");
    VG_RETURN_IF_ERROR(next.Prepared());
    next.Bind(1, videogen::v1::SEARCH_STATE_QUEUED).Bind(2, videogen::v1::SEARCH_STATE_RUNNING);
    next.Bind(3, NowMicros());
    VG_ASSIGN_OR_RETURN(const bool found, next.Step());
    if (!found) return absl::OkStatus();
    const std::string id = next.Text(0);
    VG_ASSIGN_OR_RETURN(SearchJob search, Load(id));
    search.set_state(videogen::v1::SEARCH_STATE_RUNNING);
    *search.mutable_start_time() = TimeUtil::GetCurrentTime();
    VG_RETURN_IF_ERROR(Store(search));
    Statement lease(db_.get(), "UPDATE searches SET lease_micros = ?1 WHERE id = ?2");
    VG_RETURN_IF_ERROR(lease.Prepared());
    VG_RETURN_IF_ERROR(
        lease.Bind(1, NowMicros() + absl::ToInt64Microseconds(options_.lease)).Bind(2, id).Run());
    claimed = id;
    return absl::OkStatus();
  }));
  return claimed;
}

absl::StatusOr<bool> SearchManager::Heartbeat(const std::string& id) {
  Statement lease(db_.get(), "UPDATE searches SET lease_micros = ?1 WHERE id = ?2");
  VG_RETURN_IF_ERROR(lease.Prepared());
  VG_RETURN_IF_ERROR(
      lease.Bind(1, NowMicros() + absl::ToInt64Microseconds(options_.lease)).Bind(2, id).Run());
  Statement flag(db_.get(), "SELECT cancel FROM searches WHERE id = ?1");
  VG_RETURN_IF_ERROR(flag.Prepared());
  VG_ASSIGN_OR_RETURN(const bool found, flag.Bind(1, id).Step());
  return found && flag.Int(0) != 0;
}

void SearchManager::WorkerLoop() {
  auto log = GetLogger(kServerLogger);
  while (true) {
    std::optional<std::string> id;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      absl::StatusOr<std::optional<std::string>> claimed = Claim();
      if (!claimed.ok()) log->error("search store: {}", claimed.status().ToString());
      if (claimed.ok()) id = *claimed;
      if (!id.has_value()) {
        // Nothing to do: wait for a local submission, a stop, or the next look at the store.
        const int64_t seen = submissions_;
        auto woken = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || submissions_ != seen;
        };
        mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll);
        continue;
      }
    }
    RunSearch(*id);
  }
}

void SearchManager::RunSearch(const std::string& id) {
  auto log = GetLogger(kServerLogger);
  SearchJob search;
  const Model* model = nullptr;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<SearchJob> loaded = Load(id);
    if (!loaded.ok()) {
      log->error("search {}: {}", id, loaded.status().ToString());
      return;
    }
    search = *std::move(loaded);
    for (const Model& m : models_) {
      if (m.name == search.spec().key().model_id()) model = &m;
    }
  }
  log->info("search {} started", id);
  const absl::Time start = absl::Now();
  bool cancel_requested = false;
  absl::Time last_heartbeat = start;
  absl::StatusOr<search_worker::SearchOutcome> outcome =
      absl::FailedPreconditionError(absl::StrCat("model \"", search.spec().key().model_id(),
                                                 "\" is not loaded in this worker"));
  if (model != nullptr) {
    search_worker::SearchOptions options;
    options.search_id = id;
    options.checkpoint_path = CheckpointPath(id);
    options.fitness.replicas = model->replicas;
    options.on_progress = [&](const videogen::v1::SearchProgress& progress) {
      absl::MutexLock lock(&mu_);
      *search.mutable_progress() = progress;
      if (const absl::Status stored = Store(search); !stored.ok()) {
        log->error("search {}: {}", id, stored.ToString());
      }
    };
    options.cancelled = [&] {
      absl::MutexLock lock(&mu_);
      while (true) {
        // The lease and the cancel flag, at most once per poll interval.
        if (absl::Now() - last_heartbeat >= options_.poll) {
          last_heartbeat = absl::Now();
          absl::StatusOr<bool> flag = Heartbeat(id);
          if (flag.ok()) cancel_requested = *flag;
        }
        // Video jobs first: wait while they use the device.
        if (stopping_ || cancel_requested || !device_busy_ || !device_busy_()) break;
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(50));
      }
      return stopping_ || cancel_requested;
    };
    outcome = search_worker::RunScheduleSearch(*model->pipeline, *registry_, search.spec(),
                                               options);
  }
  absl::MutexLock lock(&mu_);
  *search.mutable_device_time() = TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(absl::Now() - start) +
      TimeUtil::DurationToNanoseconds(search.device_time()));
  if (!outcome.ok() && stopping_ && !cancel_requested) {
    // Queued again with its checkpoint, for this or another worker.
    search.set_state(videogen::v1::SEARCH_STATE_QUEUED);
    if (const absl::Status stored = Store(search); !stored.ok()) {
      log->error("search {}: {}", id, stored.ToString());
    }
    log->info("search {} interrupted by shutdown; queued again", id);
    return;
  }
  *search.mutable_finish_time() = TimeUtil::GetCurrentTime();
  if (outcome.ok()) {
    search.set_state(videogen::v1::SEARCH_STATE_SUCCEEDED);
    for (const auto& result : outcome->results) *search.add_results() = result;
    search.set_steps_computed(search.steps_computed() + outcome->steps_computed);
    search.set_steps_reused(search.steps_reused() + outcome->steps_reused);
  } else {
    search.set_state(outcome.status().code() == absl::StatusCode::kCancelled
                         ? videogen::v1::SEARCH_STATE_CANCELLED
                         : videogen::v1::SEARCH_STATE_FAILED);
    search.set_error_code(static_cast<int>(outcome.status().code()));
    search.set_error_message(std::string(outcome.status().message()));
  }
  if (const absl::Status stored = Store(search); !stored.ok()) {
    log->error("search {}: {}", id, stored.ToString());
  }
  std::error_code ignored;
  std::filesystem::remove(CheckpointPath(id), ignored);
  log->info("search {} {}", id, videogen::v1::SearchState_Name(search.state()));
}

}  // namespace videogen::server
