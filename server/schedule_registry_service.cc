#include "server/schedule_registry_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "server/admin_auth.h"
#include "server/grpc_status.h"

namespace videogen::server {
namespace {

absl::Status RequireId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  return absl::OkStatus();
}

}  // namespace

ScheduleRegistryService::ScheduleRegistryService(const videogen::v1::ServerConfig& config,
                                                 ScheduleRegistry* registry,
                                                 std::string admin_token)
    : registry_(registry), admin_token_(std::move(admin_token)) {
  for (const auto& model : config.models()) models_.insert(model.name());
}

grpc::ServerUnaryReactor* ScheduleRegistryService::ListSchedules(
    grpc::CallbackServerContext* context, const videogen::v1::ListSchedulesRequest* request,
    videogen::v1::ListSchedulesResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    ScheduleRegistry::ListOptions options;
    if (request->page_size() != 0) options.page_size = request->page_size();
    options.page_token = request->page_token();
    options.filter = request->key();
    VG_ASSIGN_OR_RETURN(ScheduleRegistry::ListResult page, registry_->List(options));
    for (auto& schedule : page.schedules) *response->add_schedules() = std::move(schedule);
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* ScheduleRegistryService::GetSchedule(
    grpc::CallbackServerContext* context, const videogen::v1::GetScheduleRequest* request,
    videogen::v1::GetScheduleResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(RequireId(request->id()));
    VG_ASSIGN_OR_RETURN(*response->mutable_schedule(),
                        registry_->Get(request->id(), request->version()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* ScheduleRegistryService::LookupSchedule(
    grpc::CallbackServerContext* context, const videogen::v1::LookupScheduleRequest* request,
    videogen::v1::LookupScheduleResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    if (!models_.contains(request->key().model_id())) {
      return absl::NotFoundError(
          absl::StrCat("model \"", request->key().model_id(), "\" is not served here"));
    }
    const float budget = request->budget() == 0 ? 1.0f : request->budget();
    VG_ASSIGN_OR_RETURN(ScheduleRegistry::LookupResult found,
                        registry_->Lookup(request->key(), budget));
    *response->mutable_schedule() = std::move(found.schedule);
    response->set_match(found.match);
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* ScheduleRegistryService::PutSchedule(
    grpc::CallbackServerContext* context, const videogen::v1::PutScheduleRequest* request,
    videogen::v1::PutScheduleResponse* response) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(AuthorizeAdmin(*context, admin_token_));
    VG_ASSIGN_OR_RETURN(*response->mutable_schedule(), registry_->Put(request->schedule()));
    return absl::OkStatus();
  }());
}

grpc::ServerUnaryReactor* ScheduleRegistryService::DeleteSchedule(
    grpc::CallbackServerContext* context, const videogen::v1::DeleteScheduleRequest* request,
    videogen::v1::DeleteScheduleResponse* /*response*/) {
  return FinishUnary(context, [&]() -> absl::Status {
    VG_RETURN_IF_ERROR(AuthorizeAdmin(*context, admin_token_));
    VG_RETURN_IF_ERROR(RequireId(request->id()));
    return registry_->Delete(request->id());
  }());
}

}  // namespace videogen::server
