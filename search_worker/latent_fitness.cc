#include "search_worker/latent_fitness.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/common/torch_status.h"

namespace videogen::search_worker {

absl::StatusOr<LatentFitness> LatentFitness::Create(const engine::wan::Pipeline* pipeline,
                                                    const engine::wan::GenerateRequest& base,
                                                    Calibration calibration, Options options) {
  if (calibration.prompts.empty()) {
    return absl::InvalidArgumentError("calibration_prompts: at least one prompt is needed");
  }
  if (calibration.seeds.size() != calibration.prompts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("calibration_seeds has ",
                                                   calibration.seeds.size(), " seeds for ",
                                                   calibration.prompts.size(), " prompts"));
  }
  LatentFitness fitness(pipeline, base, std::move(calibration), options);
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

absl::Status LatentFitness::AddPromptErrors(size_t prompt, const std::vector<Levels>& candidates,
                                            const std::function<bool()>& cancelled,
                                            std::vector<double>& mse) {
  const int steps = base_.steps;
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return candidates[a] < candidates[b]; });
  engine::wan::GenerateRequest request = RequestFor(prompt);
  VG_ASSIGN_OR_RETURN(request.schedule,
                      engine::astraea::BudgetSchedule::FromLevels(candidates[order[0]]));
  // Saved states along the current run by depth; the root (depth 0) is valid for every candidate.
  std::map<int, engine::wan::Pipeline::Trajectory> saved;
  VG_ASSIGN_OR_RETURN(auto root, pipeline_->StartTrajectory(request, /*open_ended=*/true));
  saved.emplace(0, std::move(root));
  int stride = 0;  // Steps between saved states; set once a state's size is known.
  const Levels* previous = nullptr;
  for (const size_t index : order) {
    const Levels& levels = candidates[index];
    int shared = 0;
    if (previous != nullptr && options_.reuse_prefixes) {
      while (shared < steps && (*previous)[shared] == levels[shared]) ++shared;
    }
    saved.erase(saved.upper_bound(shared), saved.end());  // States of other prefixes.
    const auto start = std::prev(saved.end());
    VG_ASSIGN_OR_RETURN(engine::wan::Pipeline::Trajectory run, start->second.Branch());
    steps_reused_ += start->first;
    for (int step = start->first; step < steps; ++step) {
      if (cancelled && cancelled()) return absl::CancelledError("the search was cancelled");
      VG_RETURN_IF_ERROR(pipeline_->Advance(run, levels[step]).status());
      ++steps_computed_;
      if (!options_.reuse_prefixes || step + 1 == steps) continue;
      if (stride == 0) {
        // The first state's size fixes how many fit the budget.
        const int64_t bytes = std::max<int64_t>(run.StateBytes(), 1);
        const int64_t fit = std::clamp<int64_t>(options_.snapshot_bytes / bytes, 1, steps);
        stride = static_cast<int>((steps + fit - 1) / fit);
      }
      if ((step + 1) % stride == 0) {
        VG_ASSIGN_OR_RETURN(auto branch, run.Branch());
        saved.insert_or_assign(step + 1, std::move(branch));
      }
    }
    VG_ASSIGN_OR_RETURN(const double error, engine::RunTorchOr("fitness", [&] {
                          return (run.latents() - dense_[prompt]).pow(2).mean().item<double>();
                        }));
    mse[index] += error;
    previous = &levels;
  }
  return absl::OkStatus();
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
  std::vector<double> mse(candidates.size(), 0.0);
  if (candidates.empty()) return mse;
  for (size_t i = 0; i < prompts; ++i) {
    VG_RETURN_IF_ERROR(AddPromptErrors(i, candidates, cancelled, mse));
  }
  for (double& value : mse) value /= static_cast<double>(prompts);
  return mse;
}

}  // namespace videogen::search_worker
