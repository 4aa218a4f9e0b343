#include "engine/wan/sequence_parallel.h"

#include "ATen/ATen.h"

namespace videogen::engine::wan {

at::Tensor TakeShard(const at::Tensor& full, const SequenceShard& shard) {
  const at::Tensor rows =
      full.narrow(1, shard.begin() < full.size(1) ? shard.begin() : 0, shard.valid());
  if (shard.valid() == shard.size()) return rows.contiguous();
  std::vector<int64_t> padding = full.sizes().vec();
  padding[1] = shard.size() - shard.valid();
  return at::cat({rows, at::zeros(padding, full.options())}, 1);
}

}  // namespace videogen::engine::wan
