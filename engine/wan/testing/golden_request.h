// Test support: the request that tools/golden/fixtures_pipeline.py records on the tiny model
// (tests/golden/wan_tiny, "pipeline_golden"), for the tests that replay it.
#ifndef VIDEOGEN_ENGINE_WAN_TESTING_GOLDEN_REQUEST_H_
#define VIDEOGEN_ENGINE_WAN_TESTING_GOLDEN_REQUEST_H_

#include "engine/wan/pipeline.h"

namespace videogen::engine::wan::testing {

// fixtures_pipeline.py's CASE and seed: 32x32, 9 frames, 4 steps guided at 5.0, seed 42, prompts
// of at most 16 tokens.
GenerateRequest WanTinyGoldenRequest();

}  // namespace videogen::engine::wan::testing

#endif  // VIDEOGEN_ENGINE_WAN_TESTING_GOLDEN_REQUEST_H_
