// Test support: the Wan2.1-T2V-1.3B pipeline at its real configuration (umT5-XXL text encoder,
// the 1.3B transformer, the Wan2.1 VAE) with random weights, for GPU benchmarks and tests that
// need the real sizes but not the real weights. Weights are bf16 with diffusers' fp32 keep-lists
// (the VAE in float32). The tokenizer and scheduler config are the golden fixtures' (the Wan2.1
// UniPC config); the tiny tokenizer's ids are valid for the real vocabulary, and text cost does
// not depend on them. Needs //tests/golden in the runfiles.
#ifndef VIDEOGEN_ENGINE_WAN_TESTING_RANDOM_PIPELINE_H_
#define VIDEOGEN_ENGINE_WAN_TESTING_RANDOM_PIPELINE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/wan/pipeline.h"

namespace videogen::engine::wan::testing {

// `sparse` is Pipeline::Components::sparse.
absl::StatusOr<std::unique_ptr<Pipeline>> RandomWan21Pipeline1p3B(
    const at::Device& device, const astraea::SparseOptions& sparse = {});

}  // namespace videogen::engine::wan::testing

#endif  // VIDEOGEN_ENGINE_WAN_TESTING_RANDOM_PIPELINE_H_
