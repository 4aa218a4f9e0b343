#include "server/schedule_search_service.h"

#include <utility>
#include <vector>

#include "engine/common/status_macros.h"
#include "server/admin_auth.h"
#include "server/event_stream.h"
#include "server/grpc_status.h"

namespace videogen::server {
namespace {

using ::videogen::v1::SearchEvent;

bool IsProgress(const SearchEvent& event) { return event.has_progress(); }
bool IsResult(const SearchEvent& event) { return event.has_result(); }
using SearchEventStream = EventStream<SearchEvent, IsProgress, IsResult>;

bool Finished(const videogen::v1::SearchJob& search) {
  return search.state() == videogen::v1::SEARCH_STATE_SUCCEEDED ||
         search.state() == videogen::v1::SEARCH_STATE_FAILED ||
         search.state() == videogen::v1::SEARCH_STATE_CANCELLED;
}

absl::Status RequireId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("search_id is required");
  return absl::OkStatus();
}

}  // namespace

void ScheduleSearchService::Attach(SearchManager* manager) {
  absl::MutexLock lock(&mu_);
  manager_ = manager;
}

absl::StatusOr<SearchManager*> ScheduleSearchService::Manager() const {
  absl::MutexLock lock(&mu_);
  if (manager_ == nullptr) {
    return absl::UnavailableError("the server is starting: its models are still loading");
  }
  return manager_;
}

grpc::ServerUnaryReactor* ScheduleSearchService::SubmitSearch(
    grpc::CallbackServerContext* context, const videogen::v1::SubmitSearchRequest* request,
    videogen::v1::SubmitSearchResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(AuthorizeAdmin(*context, admin_token_));
    VG_ASSIGN_OR_RETURN(SearchManager * manager, Manager());
    VG_ASSIGN_OR_RETURN(*response->mutable_search(), manager->Submit(request->spec()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* ScheduleSearchService::GetSearch(
    grpc::CallbackServerContext* context, const videogen::v1::GetSearchRequest* request,
    videogen::v1::GetSearchResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(RequireId(request->search_id()));
    VG_ASSIGN_OR_RETURN(SearchManager * manager, Manager());
    VG_ASSIGN_OR_RETURN(*response->mutable_search(), manager->Get(request->search_id()));
    return absl::OkStatus();
  }());
}

grpc::ServerWriteReactor<SearchEvent>* ScheduleSearchService::WatchSearch(
    grpc::CallbackServerContext* /*context*/, const videogen::v1::WatchSearchRequest* request) {
  auto* stream = new SearchEventStream();
  const std::string id = request->search_id();
  absl::StatusOr<SearchManager*> manager = Manager();
  absl::Status status = RequireId(id);
  if (status.ok()) status = manager.status();
  absl::StatusOr<videogen::v1::SearchJob> search =
      status.ok() ? (*manager)->Watch(id, stream->sink()) : status;
  if (!search.ok()) {
    stream->Abort(search.status());
    return stream;
  }
  stream->SetHooks(nullptr, [manager = *manager, id, sink = stream->sink().get()] {
    manager->Unwatch(id, sink);
  });
  std::vector<SearchEvent> first(1);
  first[0].set_search_id(id);
  *first[0].mutable_snapshot() = *search;
  if (Finished(*search)) {
    SearchEvent& result = first.emplace_back();
    result.set_search_id(id);
    *result.mutable_result() = *search;
  }
  stream->Begin(std::move(first));
  return stream;
}

grpc::ServerUnaryReactor* ScheduleSearchService::CancelSearch(
    grpc::CallbackServerContext* context, const videogen::v1::CancelSearchRequest* request,
    videogen::v1::CancelSearchResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(AuthorizeAdmin(*context, admin_token_));
    VG_RETURN_IF_ERROR(RequireId(request->search_id()));
    VG_ASSIGN_OR_RETURN(SearchManager * manager, Manager());
    VG_ASSIGN_OR_RETURN(*response->mutable_search(), manager->Cancel(request->search_id()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* ScheduleSearchService::ListSearches(
    grpc::CallbackServerContext* context, const videogen::v1::ListSearchesRequest* request,
    videogen::v1::ListSearchesResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_ASSIGN_OR_RETURN(SearchManager * manager, Manager());
    std::vector<videogen::v1::SearchState> states;
    for (const int state : request->states()) {
      states.push_back(static_cast<videogen::v1::SearchState>(state));
    }
    VG_ASSIGN_OR_RETURN(
        SearchManager::ListResult page,
        manager->List(request->page_size() == 0 ? 50 : request->page_size(),
                      request->page_token(), states));
    for (auto& search : page.searches) *response->add_searches() = std::move(search);
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }());
}

}  // namespace videogen::server
