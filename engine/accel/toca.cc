#include "engine/accel/toca.h"

#include <tuple>
#include <utility>
#include <vector>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/accel/reuse.h"
#include "engine/accel/step_run.h"
#include "engine/accel/work.h"
#include "engine/common/status_macros.h"

namespace videogen::engine::accel {
namespace {

class TocaRun : public StepRun {
 public:
  TocaRun(const wan::Transformer& transformer, const TocaOptions& options, int steps)
      : StepRun(transformer, steps), options_(options), blocks_(transformer.config().num_layers) {}

  absl::StatusOr<at::Tensor> Forward(const at::Tensor& latents, const at::Tensor& timestep,
                                     const wan::Transformer::TextContext& text) override {
    VG_ASSIGN_OR_RETURN(const int64_t n, BeginStep(latents, timestep, text));
    const bool fresh_step = IsFresh(step());
    // The caches and staleness are kept only while the next step reuses them.
    const bool keep = step() + 1 < steps() && !IsFresh(step() + 1);
    const int64_t k = fresh_step ? n : CeilFraction(1 - options_.reuse_ratio, n);
    const BlockWork work = fresh_step ? DenseBlockWork(n) : BlockWork{0, 0, k, k};

    wan::Transformer::Tokens tokens = transformer().Embed(latents);
    const wan::Transformer::Conditioning conditioning = transformer().Condition(timestep, text);
    for (int i = 0; i < static_cast<int>(blocks_.size()); ++i) {
      Block& block = blocks_[i];
      wan::Transformer::Branches reused;
      at::Tensor fresh;
      if (!fresh_step) {
        reused.self_attention = block.cache.self_attention;
        // With every row recomputed (k == N) the branches are computed whole, without gathers.
        if (k < n) {
          reused.cross_attention = block.cache.cross_attention;
          reused.feed_forward = block.cache.feed_forward;
          if (k > 0) fresh = TocaPolicy::SelectFreshTokens(tokens.hidden[0], block.staleness, k);
        }
      }
      wan::Transformer::Branches used;
      tokens.hidden = transformer().BlockWithCache(i, tokens.hidden, conditioning, tokens.rope,
                                                   reused, fresh, keep ? &used : nullptr);
      if (!keep) {
        block = {};
      } else {
        block.cache = std::move(used);
        if (k == n) {
          block.staleness = at::zeros({n}, tokens.hidden.options().dtype(at::kInt));
        } else {
          block.staleness.add_(1);
          if (fresh.defined()) block.staleness.index_fill_(0, fresh, 0);
        }
      }
      AddBlockWork(work);
    }
    EndStep();
    return transformer().Head(tokens.hidden, conditioning.temb, tokens.grid);
  }

  int64_t CacheBytes() const override {
    int64_t bytes = 0;
    for (const Block& block : blocks_) {
      bytes += BranchesBytes(block.cache);
      if (block.staleness.defined()) bytes += block.staleness.nbytes();
    }
    return bytes;
  }

 private:
  struct Block {
    wan::Transformer::Branches cache;  // The branch outputs the block added at the last step.
    at::Tensor staleness;              // [N] int32: consecutive steps each token was reused.
  };

  bool IsFresh(int step) const { return step % options_.interval == 0; }

  const TocaOptions options_;
  std::vector<Block> blocks_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TocaPolicy>> TocaPolicy::Create(const TocaOptions& options) {
  if (options.interval < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("interval must be >= 1, got ", options.interval));
  }
  if (!(options.reuse_ratio >= 0 && options.reuse_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reuse_ratio ", options.reuse_ratio, " is outside [0, 1]"));
  }
  return std::unique_ptr<TocaPolicy>(new TocaPolicy(options));
}

std::string TocaPolicy::Describe() const {
  return absl::StrCat("toca(interval=", FormatNumber(options_.interval),
                      ",reuse=", FormatNumber(options_.reuse_ratio), ")");
}

absl::StatusOr<std::unique_ptr<BranchRun>> TocaPolicy::Start(const wan::Transformer& transformer,
                                                             int steps) const {
  VG_RETURN_IF_ERROR(ValidateSteps(steps));
  return std::make_unique<TocaRun>(transformer, options_, steps);
}

at::Tensor TocaPolicy::SelectFreshTokens(const at::Tensor& input, const at::Tensor& staleness,
                                         int64_t count) {
  // Two stable sorts give the lexicographic order: by norm first, then by staleness, each
  // keeping the previous order among its ties (and the index order among ties of both).
  const at::Tensor norms = at::linalg_vector_norm(input, 2, {-1}, /*keepdim=*/false, at::kFloat);
  const at::Tensor by_norm =
      std::get<1>(at::sort(norms, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  const at::Tensor by_staleness =
      std::get<1>(at::sort(staleness.index_select(0, by_norm), /*stable=*/true, /*dim=*/0,
                           /*descending=*/true));
  return std::get<0>(at::sort(by_norm.index_select(0, by_staleness.narrow(0, 0, count))));
}

}  // namespace videogen::engine::accel
