// The videogen.v1.ScheduleRegistry gRPC service over a ScheduleRegistry: ListSchedules,
// GetSchedule and LookupSchedule for anyone; PutSchedule and DeleteSchedule for admins
// (server/admin_auth.h). Lookups for a model the server does not serve are NOT_FOUND.
//
// Thread-safe.
#ifndef VIDEOGEN_SERVER_SCHEDULE_REGISTRY_SERVICE_H_
#define VIDEOGEN_SERVER_SCHEDULE_REGISTRY_SERVICE_H_

#include <string>

#include "absl/container/flat_hash_set.h"
#include "proto/server_config.pb.h"
#include "proto/videogen_service.grpc.pb.h"
#include "server/schedule_registry.h"

namespace videogen::server {

class ScheduleRegistryService final : public videogen::v1::ScheduleRegistry::CallbackService {
 public:
  // `registry` must outlive the service; `admin_token` as for AuthorizeAdmin().
  ScheduleRegistryService(const videogen::v1::ServerConfig& config, ScheduleRegistry* registry,
                          std::string admin_token);

  grpc::ServerUnaryReactor* ListSchedules(grpc::CallbackServerContext* context,
                                          const videogen::v1::ListSchedulesRequest* request,
                                          videogen::v1::ListSchedulesResponse* response) override;
  grpc::ServerUnaryReactor* GetSchedule(grpc::CallbackServerContext* context,
                                        const videogen::v1::GetScheduleRequest* request,
                                        videogen::v1::GetScheduleResponse* response) override;
  grpc::ServerUnaryReactor* LookupSchedule(grpc::CallbackServerContext* context,
                                           const videogen::v1::LookupScheduleRequest* request,
                                           videogen::v1::LookupScheduleResponse* response) override;
  grpc::ServerUnaryReactor* PutSchedule(grpc::CallbackServerContext* context,
                                        const videogen::v1::PutScheduleRequest* request,
                                        videogen::v1::PutScheduleResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSchedule(grpc::CallbackServerContext* context,
                                           const videogen::v1::DeleteScheduleRequest* request,
                                           videogen::v1::DeleteScheduleResponse* response) override;

 private:
  absl::flat_hash_set<std::string> models_;
  ScheduleRegistry* const registry_;
  const std::string admin_token_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_SCHEDULE_REGISTRY_SERVICE_H_
