#include "server/search_manager.h"

#include <algorithm>
#include <filesystem>
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

std::string NewSearchId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return absl::StrFormat("%016x%016x", generator(), generator());
}

SearchEvent EventFor(const std::string& id) {
  SearchEvent event;
  event.set_search_id(id);
  *event.mutable_event_time() = TimeUtil::GetCurrentTime();
  return event;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SearchManager>> SearchManager::Create(
    const videogen::v1::ServerConfig& config, std::vector<Model> models,
    ScheduleRegistry* registry, std::function<bool()> device_busy) {
  std::error_code error;
  std::filesystem::create_directories(config.data_dir() + "/searches", error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", config.data_dir(),
                                                      "/searches: ", error.message()));
  }
  absl::StatusOr<sqlite::Database> db = sqlite::Open(
      config.data_dir() + "/searches.db", "search store", kSchemaVersion,
      {"CREATE TABLE searches (id TEXT PRIMARY KEY, state INTEGER NOT NULL, create_micros "
       "INTEGER NOT NULL, record BLOB NOT NULL)"});
  if (!db.ok()) return db.status();
  std::unique_ptr<SearchManager> manager(new SearchManager(
      config, *std::move(db), std::move(models), registry, std::move(device_busy)));
  {
    absl::MutexLock lock(&manager->mu_);
    Statement unfinished(manager->db_.get(),
                         "SELECT id FROM searches WHERE state IN (?1, ?2) ORDER BY create_micros");
    VG_RETURN_IF_ERROR(unfinished.Prepared());
    unfinished.Bind(1, videogen::v1::SEARCH_STATE_QUEUED)
        .Bind(2, videogen::v1::SEARCH_STATE_RUNNING);
    while (true) {
      VG_ASSIGN_OR_RETURN(const bool row, unfinished.Step());
      if (!row) break;
      manager->queue_.push_back(unfinished.Text(0));
    }
    for (const std::string& id : manager->queue_) {
      VG_ASSIGN_OR_RETURN(SearchJob search, manager->Load(id));
      search.set_state(videogen::v1::SEARCH_STATE_QUEUED);
      VG_RETURN_IF_ERROR(manager->Store(search));
    }
  }
  manager->worker_ = std::thread([m = manager.get()] { m->WorkerLoop(); });
  return manager;
}

SearchManager::SearchManager(const videogen::v1::ServerConfig& config, sqlite::Database db,
                             std::vector<Model> models, ScheduleRegistry* registry,
                             std::function<bool()> device_busy)
    : config_(config),
      db_(std::move(db)),
      models_(std::move(models)),
      registry_(registry),
      device_busy_(std::move(device_busy)) {}

SearchManager::~SearchManager() { Stop(); }

void SearchManager::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

std::string SearchManager::CheckpointPath(const std::string& id) const {
  return absl::StrCat(config_.data_dir(), "/searches/", id, ".json");
}

absl::Status SearchManager::Store(const SearchJob& search) {
  Statement upsert(db_.get(),
                   "INSERT INTO searches (id, state, create_micros, record) VALUES (?1, ?2, ?3, "
                   "?4) ON CONFLICT(id) DO UPDATE SET state = ?2, record = ?4");
  VG_RETURN_IF_ERROR(upsert.Prepared());
  upsert.Bind(1, search.id()).Bind(2, search.state());
  upsert.Bind(3, TimeUtil::TimestampToMicroseconds(search.create_time()));
  upsert.BindBlob(4, search.SerializeAsString());
  return upsert.Run();
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

void SearchManager::Publish(const std::string& id, const SearchEvent& event) {
  const auto it = sinks_.find(id);
  if (it == sinks_.end()) return;
  for (const auto& sink : it->second) sink->OnEvent(event);
  if (event.has_result()) sinks_.erase(it);
}

absl::StatusOr<SearchJob> SearchManager::Submit(const videogen::v1::SearchJobSpec& input) {
  const bool served = std::any_of(models_.begin(), models_.end(), [&](const Model& model) {
    return model.name == input.key().model_id();
  });
  if (!served) {
    return absl::NotFoundError(
        absl::StrCat("model \"", input.key().model_id(), "\" is not served here"));
  }
  VG_ASSIGN_OR_RETURN(const videogen::v1::SearchJobSpec spec,
                      search_worker::NormalizeSearchSpec(input, std::random_device{}()));
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int>(queue_.size()) >= kMaxQueued) {
    return absl::ResourceExhaustedError(
        absl::StrCat(kMaxQueued, " searches are already queued; retry later"));
  }
  SearchJob search;
  search.set_id(NewSearchId());
  *search.mutable_spec() = spec;
  search.set_state(videogen::v1::SEARCH_STATE_QUEUED);
  *search.mutable_create_time() = TimeUtil::GetCurrentTime();
  VG_RETURN_IF_ERROR(Store(search));
  queue_.push_back(search.id());
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
  VG_ASSIGN_OR_RETURN(SearchJob search, Load(id));
  if (search.state() == videogen::v1::SEARCH_STATE_CANCELLED) return search;
  if (Finished(search.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "search ", id, " already finished (", videogen::v1::SearchState_Name(search.state()), ")"));
  }
  if (id == running_) {
    cancel_running_ = true;
    return search;
  }
  queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
  search.set_state(videogen::v1::SEARCH_STATE_CANCELLED);
  search.set_error_code(static_cast<int>(absl::StatusCode::kCancelled));
  search.set_error_message("cancelled while queued");
  *search.mutable_finish_time() = TimeUtil::GetCurrentTime();
  VG_RETURN_IF_ERROR(Store(search));
  SearchEvent event = EventFor(id);
  *event.mutable_result() = search;
  Publish(id, event);
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
  if (!Finished(search.state())) sinks_[id].push_back(std::move(sink));
  return search;
}

void SearchManager::Unwatch(const std::string& id, const SearchEventSink* sink) {
  absl::MutexLock lock(&mu_);
  const auto it = sinks_.find(id);
  if (it == sinks_.end()) return;
  auto& sinks = it->second;
  sinks.erase(std::remove_if(sinks.begin(), sinks.end(),
                             [&](const auto& s) { return s.get() == sink; }),
              sinks.end());
  if (sinks.empty()) sinks_.erase(it);
}

void SearchManager::WorkerLoop() {
  while (true) {
    std::string id;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      running_ = id;
      cancel_running_ = false;
    }
    RunSearch(id);
    absl::MutexLock lock(&mu_);
    running_.clear();
  }
}

void SearchManager::RunSearch(const std::string& id) {
  auto log = GetLogger(kServerLogger);
  SearchJob search;
  const engine::wan::Pipeline* pipeline = nullptr;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<SearchJob> loaded = Load(id);
    if (!loaded.ok()) {
      log->error("search {}: {}", id, loaded.status().ToString());
      return;
    }
    search = *std::move(loaded);
    for (const Model& model : models_) {
      if (model.name == search.spec().key().model_id()) pipeline = model.pipeline;
    }
    search.set_state(videogen::v1::SEARCH_STATE_RUNNING);
    *search.mutable_start_time() = TimeUtil::GetCurrentTime();
    if (const absl::Status stored = Store(search); !stored.ok()) {
      log->error("search {}: {}", id, stored.ToString());
    }
  }
  log->info("search {} started", id);
  const absl::Time start = absl::Now();
  absl::StatusOr<search_worker::SearchOutcome> results =
      pipeline == nullptr
          ? absl::FailedPreconditionError(absl::StrCat("model \"", search.spec().key().model_id(),
                                                       "\" is not loaded on this server"))
          : absl::StatusOr<search_worker::SearchOutcome>();
  if (pipeline != nullptr) {
    search_worker::SearchOptions options;
    options.search_id = id;
    options.checkpoint_path = CheckpointPath(id);
    options.on_progress = [&](const videogen::v1::SearchProgress& progress) {
      absl::MutexLock lock(&mu_);
      *search.mutable_progress() = progress;
      SearchEvent event = EventFor(id);
      *event.mutable_progress() = progress;
      Publish(id, event);
    };
    options.cancelled = [&] {
      // Video jobs first: wait while they use the device.
      while (device_busy_ && device_busy_()) {
        absl::MutexLock lock(&mu_);
        if (stopping_ || cancel_running_) break;
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(50));
      }
      absl::MutexLock lock(&mu_);
      return stopping_ || cancel_running_;
    };
    results = search_worker::RunScheduleSearch(*pipeline, *registry_, search.spec(), options);
  }
  absl::MutexLock lock(&mu_);
  *search.mutable_device_time() = TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(absl::Now() - start) +
      TimeUtil::DurationToNanoseconds(search.device_time()));
  if (!results.ok() && stopping_ && !cancel_running_) {
    search.set_state(videogen::v1::SEARCH_STATE_QUEUED);  // Continues from its checkpoint.
    if (const absl::Status stored = Store(search); !stored.ok()) {
      log->error("search {}: {}", id, stored.ToString());
    }
    log->info("search {} interrupted by shutdown; queued again", id);
    return;
  }
  *search.mutable_finish_time() = TimeUtil::GetCurrentTime();
  if (results.ok()) {
    search.set_state(videogen::v1::SEARCH_STATE_SUCCEEDED);
    for (const auto& result : results->results) *search.add_results() = result;
    search.set_steps_computed(search.steps_computed() + results->steps_computed);
    search.set_steps_reused(search.steps_reused() + results->steps_reused);
  } else {
    search.set_state(results.status().code() == absl::StatusCode::kCancelled
                         ? videogen::v1::SEARCH_STATE_CANCELLED
                         : videogen::v1::SEARCH_STATE_FAILED);
    search.set_error_code(static_cast<int>(results.status().code()));
    search.set_error_message(std::string(results.status().message()));
  }
  if (const absl::Status stored = Store(search); !stored.ok()) {
    log->error("search {}: {}", id, stored.ToString());
  }
  std::error_code ignored;
  std::filesystem::remove(CheckpointPath(id), ignored);
  SearchEvent event = EventFor(id);
  *event.mutable_result() = search;
  Publish(id, event);
  log->info("search {} {}", id, videogen::v1::SearchState_Name(search.state()));
}

}  // namespace videogen::server
