// Makes the FlowScheduler a diffusers scheduler config names.
#ifndef VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_FACTORY_H_
#define VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/scheduler/flow_scheduler.h"
#include "engine/scheduler/flow_scheduler_config.h"

namespace videogen::engine::scheduler {

// UniPcFlowScheduler for `_class_name` UniPCMultistepScheduler, FlowMatchEulerScheduler for
// FlowMatchEulerDiscreteScheduler; UNIMPLEMENTED for any other class, and the errors of
// ValidateFlowSchedulerConfig(). The scheduler has no grid until SetTimesteps().
absl::StatusOr<std::unique_ptr<FlowScheduler>> CreateFlowScheduler(
    const FlowSchedulerConfig& config);

}  // namespace videogen::engine::scheduler

#endif  // VIDEOGEN_ENGINE_SCHEDULER_FLOW_SCHEDULER_FACTORY_H_
