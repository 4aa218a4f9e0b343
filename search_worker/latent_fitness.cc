#include "search_worker/latent_fitness.h"

#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace videogen::search_worker {

absl::StatusOr<LatentFitness> LatentFitness::Create(const engine::wan::Pipeline* pipeline,
                                                    const engine::wan::GenerateRequest& base,
                                                    Calibration calibration) {
  if (calibration.prompts.empty()) {
    return absl::InvalidArgumentError("calibration_prompts: at least one prompt is needed");
  }
  if (calibration.seeds.size() != calibration.prompts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("calibration_seeds has ",
                                                   calibration.seeds.size(), " seeds for ",
                                                   calibration.prompts.size(), " prompts"));
  }
  LatentFitness fitness(pipeline, base, std::move(calibration));
  fitness.base_.schedule.reset();
  for (size_t i = 0; i < fitness.calibration_.prompts.size(); ++i) {
    VG_RETURN_IF_ERROR(pipeline->Validate(fitness.RequestFor(i)));
  }
  return fitness;
}

engine::wan::GenerateRequest LatentFitness::RequestFor(size_t prompt) const {
  engine::wan::GenerateRequest request = base_;
  request.prompt = calibration_.prompts[prompt];
  request.seed = calibration_.seeds[prompt];
  return request;
}

absl::StatusOr<std::vector<double>> LatentFitness::Evaluate(
    const std::vector<Levels>& candidates, const std::function<bool()>& cancelled) {
  const size_t prompts = calibration_.prompts.size();
  while (dense_.size() < prompts) {
    VG_ASSIGN_OR_RETURN(at::Tensor dense, pipeline_->GenerateLatents(RequestFor(dense_.size()),
                                                                     nullptr, cancelled));
    steps_computed_ += base_.steps;
    dense_.push_back(std::move(dense));
  }
  std::vector<double> mse;
  for (const Levels& levels : candidates) {
    VG_ASSIGN_OR_RETURN(auto schedule, engine::astraea::BudgetSchedule::FromLevels(levels));
    double total = 0;
    for (size_t i = 0; i < prompts; ++i) {
      engine::wan::GenerateRequest request = RequestFor(i);
      request.schedule = schedule;
      VG_ASSIGN_OR_RETURN(const at::Tensor latents,
                          pipeline_->GenerateLatents(request, nullptr, cancelled));
      steps_computed_ += base_.steps;
      total += (latents - dense_[i]).pow(2).mean().item<double>();
    }
    mse.push_back(total / static_cast<double>(prompts));
  }
  return mse;
}

}  // namespace videogen::search_worker
