// Test support: the request a pipeline golden file records (tools/golden/fixtures_pipeline.py's
// record(): WanPipeline's arguments and the seed as the safetensors metadata), for the tests that
// replay it with the C++ pipeline.
#ifndef VIDEOGEN_ENGINE_WAN_TESTING_GOLDEN_REQUEST_H_
#define VIDEOGEN_ENGINE_WAN_TESTING_GOLDEN_REQUEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/wan/pipeline.h"

namespace videogen::engine::wan::testing {

// The request recorded in the pipeline golden file `path`: prompt, negative_prompt, height,
// width, num_frames, num_inference_steps, guidance_scale, max_sequence_length and seed. NOT_FOUND
// or DATA_LOSS if the file cannot be read; INVALID_ARGUMENT naming the key if one is missing or
// not a number.
absl::StatusOr<GenerateRequest> RecordedRequest(const std::string& path);

// RecordedRequest of tests/golden/wan_tiny/pipeline_golden.safetensors (32x32, 9 frames, 4 steps
// guided at 5.0, seed 42, prompts of at most 16 tokens), from the test's runfiles.
absl::StatusOr<GenerateRequest> WanTinyGoldenRequest();

}  // namespace videogen::engine::wan::testing

#endif  // VIDEOGEN_ENGINE_WAN_TESTING_GOLDEN_REQUEST_H_
