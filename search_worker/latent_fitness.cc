#include "search_worker/latent_fitness.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <thread>
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

absl::Status LatentFitness::AddPromptErrors(const engine::wan::Pipeline& pipeline, size_t prompt,
                                            const std::vector<Levels>& candidates,
                                            const std::vector<size_t>& order, size_t begin,
                                            size_t end, const std::function<bool()>& cancelled,
                                            std::vector<double>& mse, Counts& counts) const {
  if (begin == end) return absl::OkStatus();
  const int steps = base_.steps;
  engine::wan::GenerateRequest request = RequestFor(prompt);
  VG_ASSIGN_OR_RETURN(request.schedule,
                      engine::astraea::BudgetSchedule::FromLevels(candidates[order[begin]]));
  // Saved states along the current run by depth; the root (depth 0) is valid for every candidate.
  std::map<int, engine::wan::Pipeline::Trajectory> saved;
  VG_ASSIGN_OR_RETURN(auto root, pipeline.StartTrajectory(request, /*open_ended=*/true));
  saved.emplace(0, std::move(root));
  int stride = 0;  // Steps between saved states; set once a state's size is known.
  const Levels* previous = nullptr;
  for (size_t position = begin; position < end; ++position) {
    const size_t index = order[position];
    const Levels& levels = candidates[index];
    int shared = 0;
    if (previous != nullptr && options_.reuse_prefixes) {
      while (shared < steps && (*previous)[shared] == levels[shared]) ++shared;
    }
    saved.erase(saved.upper_bound(shared), saved.end());  // States of other prefixes.
    const auto start = std::prev(saved.end());
    VG_ASSIGN_OR_RETURN(engine::wan::Pipeline::Trajectory run, start->second.Branch());
    counts.reused += start->first;
    for (int step = start->first; step < steps; ++step) {
      if (cancelled && cancelled()) return absl::CancelledError("the search was cancelled");
      VG_RETURN_IF_ERROR(pipeline.Advance(run, levels[step]).status());
      ++counts.computed;
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
                          const at::Tensor& latents = run.latents();
                          return (latents - dense_[prompt].to(latents.device()))
                              .pow(2)
                              .mean()
                              .item<double>();
                        }));
    mse[index] += error;
    previous = &levels;
  }
  return absl::OkStatus();
}

absl::StatusOr<double> LatentFitness::Psnr(const Levels& levels,
                                           const std::function<bool()>& cancelled) {
  VG_RETURN_IF_ERROR(Evaluate({}, cancelled).status());  // The dense latents.
  VG_ASSIGN_OR_RETURN(const auto schedule, engine::astraea::BudgetSchedule::FromLevels(levels));
  double total = 0;
  for (size_t i = 0; i < calibration_.prompts.size(); ++i) {
    if (dense_frames_.size() <= i) {
      VG_ASSIGN_OR_RETURN(at::Tensor frames, pipeline_->DecodeFrames(dense_[i]));
      dense_frames_.push_back(std::move(frames));
    }
    engine::wan::GenerateRequest request = RequestFor(i);
    request.schedule = schedule;
    VG_ASSIGN_OR_RETURN(const at::Tensor latents,
                        pipeline_->GenerateLatents(request, nullptr, cancelled));
    steps_computed_ += base_.steps;
    VG_ASSIGN_OR_RETURN(const at::Tensor frames, pipeline_->DecodeFrames(latents));
    VG_ASSIGN_OR_RETURN(const double mse, engine::RunTorchOr("PSNR", [&] {
                          return (frames.to(at::kFloat) - dense_frames_[i].to(at::kFloat))
                              .pow(2)
                              .mean()
                              .item<double>();
                        }));
    total += mse == 0 ? 100.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
  }
  return total / static_cast<double>(calibration_.prompts.size());
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
  std::vector<size_t> order(candidates.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return candidates[a] < candidates[b]; });
  std::vector<const engine::wan::Pipeline*> devices = {pipeline_};
  devices.insert(devices.end(), options_.replicas.begin(), options_.replicas.end());
  const size_t parts = std::min(devices.size(), candidates.size());
  for (size_t i = 0; i < prompts; ++i) {
    // Contiguous runs of the sorted batch, one per device, in parallel.
    std::vector<absl::Status> status(parts);
    std::vector<Counts> counts(parts);
    std::vector<std::thread> threads;
    for (size_t part = 0; part < parts; ++part) {
      const size_t begin = order.size() * part / parts, end = order.size() * (part + 1) / parts;
      auto run = [&, part, begin, end] {
        status[part] = AddPromptErrors(*devices[part], i, candidates, order, begin, end,
                                       cancelled, mse, counts[part]);
      };
      if (parts == 1) {
        run();
      } else {
        threads.emplace_back(run);
      }
    }
    for (std::thread& thread : threads) thread.join();
    for (size_t part = 0; part < parts; ++part) {
      steps_computed_ += counts[part].computed;
      steps_reused_ += counts[part].reused;
      VG_RETURN_IF_ERROR(status[part]);
    }
  }
  for (double& value : mse) value /= static_cast<double>(prompts);
  return mse;
}

}  // namespace videogen::search_worker
