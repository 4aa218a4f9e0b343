// The videogen.v1.ScheduleSearch gRPC service over the SearchManager: SubmitSearch and
// CancelSearch for admins (server/admin_auth.h); GetSearch, WatchSearch and ListSearches for
// anyone. Until Attach() (models loaded) every call is UNAVAILABLE.
//
// Thread-safe.
#ifndef VIDEOGEN_SERVER_SCHEDULE_SEARCH_SERVICE_H_
#define VIDEOGEN_SERVER_SCHEDULE_SEARCH_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/videogen_service.grpc.pb.h"
#include "server/search_manager.h"

namespace videogen::server {

class ScheduleSearchService final : public videogen::v1::ScheduleSearch::CallbackService {
 public:
  explicit ScheduleSearchService(std::string admin_token) : admin_token_(std::move(admin_token)) {}

  // `manager` must outlive every call (shut the gRPC server down before destroying it).
  void Attach(SearchManager* manager);

  grpc::ServerUnaryReactor* SubmitSearch(grpc::CallbackServerContext* context,
                                         const videogen::v1::SubmitSearchRequest* request,
                                         videogen::v1::SubmitSearchResponse* response) override;
  grpc::ServerUnaryReactor* GetSearch(grpc::CallbackServerContext* context,
                                      const videogen::v1::GetSearchRequest* request,
                                      videogen::v1::GetSearchResponse* response) override;
  grpc::ServerWriteReactor<videogen::v1::SearchEvent>* WatchSearch(
      grpc::CallbackServerContext* context,
      const videogen::v1::WatchSearchRequest* request) override;
  grpc::ServerUnaryReactor* CancelSearch(grpc::CallbackServerContext* context,
                                         const videogen::v1::CancelSearchRequest* request,
                                         videogen::v1::CancelSearchResponse* response) override;
  grpc::ServerUnaryReactor* ListSearches(grpc::CallbackServerContext* context,
                                         const videogen::v1::ListSearchesRequest* request,
                                         videogen::v1::ListSearchesResponse* response) override;

 private:
  absl::StatusOr<SearchManager*> Manager() const;

  const std::string admin_token_;
  mutable absl::Mutex mu_;
  SearchManager* manager_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_SCHEDULE_SEARCH_SERVICE_H_
