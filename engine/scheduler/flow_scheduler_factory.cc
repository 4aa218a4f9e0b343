#include "engine/scheduler/flow_scheduler_factory.h"

#include <memory>
#include <utility>

#include "engine/common/status_macros.h"
#include "engine/scheduler/flow_match_euler_scheduler.h"
#include "engine/scheduler/unipc_flow_scheduler.h"

namespace videogen::engine::scheduler {

absl::StatusOr<std::unique_ptr<FlowScheduler>> CreateFlowScheduler(
    const FlowSchedulerConfig& config) {
  VG_RETURN_IF_ERROR(ValidateFlowSchedulerConfig(config));  // UNIMPLEMENTED for other classes.
  if (config.is_unipc()) {
    VG_ASSIGN_OR_RETURN(std::unique_ptr<UniPcFlowScheduler> scheduler,
                        UniPcFlowScheduler::Create(config));
    return std::unique_ptr<FlowScheduler>(std::move(scheduler));
  }
  VG_ASSIGN_OR_RETURN(std::unique_ptr<FlowMatchEulerScheduler> scheduler,
                      FlowMatchEulerScheduler::Create(config));
  return std::unique_ptr<FlowScheduler>(std::move(scheduler));
}

}  // namespace videogen::engine::scheduler
