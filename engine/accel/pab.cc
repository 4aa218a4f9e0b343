#include "engine/accel/pab.h"

#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/accel/reuse.h"
#include "engine/accel/step_run.h"
#include "engine/accel/work.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {
namespace {

class PabRun : public StepRun {
 public:
  PabRun(const wan::Transformer& transformer, std::vector<PabPolicy::StepPlan> schedule)
      : StepRun(transformer, static_cast<int>(schedule.size())),
        schedule_(std::move(schedule)),
        cache_(transformer.config().num_layers) {}

  absl::StatusOr<at::Tensor> Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                     const wan::Transformer::TextContext& text) override {
    VG_ASSIGN_OR_RETURN(const int64_t n, BeginStep(latents, timestep, text));
    const PabPolicy::StepPlan& plan = schedule_[step()];
    // A branch's output is kept only while the next step broadcasts it.
    const bool has_next = step() + 1 < steps();
    const bool keep_self = has_next && !schedule_[step() + 1].self_attention;
    const bool keep_cross = has_next && !schedule_[step() + 1].cross_attention;
    BlockWork work;
    work.self_attention_queries = work.self_attention_keys = plan.self_attention ? n : 0;
    work.cross_attention_rows = plan.cross_attention ? n : 0;
    work.feed_forward_rows = n;

    wan::Transformer::Tokens tokens = transformer().Embed(latents);
    const wan::Transformer::Conditioning conditioning = transformer().Condition(timestep, text);
    for (int i = 0; i < static_cast<int>(cache_.size()); ++i) {
      wan::Transformer::Branches& cache = cache_[i];
      wan::Transformer::Branches broadcast;
      if (!plan.self_attention) broadcast.self_attention = cache.self_attention;
      if (!plan.cross_attention) broadcast.cross_attention = cache.cross_attention;
      wan::Transformer::Branches used;
      tokens.hidden = transformer().BlockWithCache(i, tokens.hidden, conditioning, tokens.rope,
                                                   broadcast, /*fresh=*/{}, &used);
      cache.self_attention = keep_self ? used.self_attention : at::Tensor();
      cache.cross_attention = keep_cross ? used.cross_attention : at::Tensor();
      AddBlockWork(work);
    }
    EndStep();
    return transformer().Head(tokens.hidden, conditioning.temb, tokens.grid);
  }

  int64_t CacheBytes() const override {
    int64_t bytes = 0;
    for (const wan::Transformer::Branches& block : cache_) bytes += BranchesBytes(block);
    return bytes;
  }

 private:
  const std::vector<PabPolicy::StepPlan> schedule_;
  // Per block: the attention outputs the next step broadcasts (the feed-forward's stays empty).
  std::vector<wan::Transformer::Branches> cache_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PabPolicy>> PabPolicy::Create(const PabOptions& options) {
  if (options.self_attention_range < 1 || options.cross_attention_range < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broadcast ranges must be >= 1, got self_attention_range ", options.self_attention_range,
        ", cross_attention_range ", options.cross_attention_range));
  }
  if (!(options.untouched_fraction >= 0 && options.untouched_fraction <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("untouched_fraction ", options.untouched_fraction, " is outside [0, 0.5]"));
  }
  return std::unique_ptr<PabPolicy>(new PabPolicy(options));
}

std::string PabPolicy::Describe() const {
  return absl::StrCat("pab(self=", FormatNumber(options_.self_attention_range),
                      ",cross=", FormatNumber(options_.cross_attention_range),
                      ",untouched=", FormatNumber(options_.untouched_fraction), ")");
}

absl::StatusOr<std::vector<PabPolicy::StepPlan>> PabPolicy::Schedule(int steps) const {
  VG_RETURN_IF_ERROR(ValidateSteps(steps));
  const int untouched = static_cast<int>(CeilFraction(options_.untouched_fraction, steps));
  std::vector<StepPlan> schedule(steps);
  int last_self = 0, last_cross = 0;  // The steps that last computed each branch.
  for (int step = 0; step < steps; ++step) {
    const bool full = step == 0 || step < untouched || step >= steps - untouched;
    auto due = [&](int range, int& last) {
      if (!full && step - last < range) return false;
      last = step;
      return true;
    };
    schedule[step].self_attention = due(options_.self_attention_range, last_self);
    schedule[step].cross_attention = due(options_.cross_attention_range, last_cross);
  }
  return schedule;
}

absl::StatusOr<std::unique_ptr<BranchRun>> PabPolicy::Start(const wan::Transformer& transformer,
                                                            int steps) const {
  VG_ASSIGN_OR_RETURN(std::vector<StepPlan> schedule, Schedule(steps));
  return std::make_unique<PabRun>(transformer, std::move(schedule));
}

}  // namespace videogen::engine::accel
