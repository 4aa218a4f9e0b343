#include "engine/wan/testing/golden_request.h"

namespace videogen::engine::wan::testing {

GenerateRequest WanTinyGoldenRequest() {
  GenerateRequest request;
  request.prompt = "a red fox runs through fresh snow";
  request.negative_prompt = "blurry, low quality";
  request.height = 32;
  request.width = 32;
  request.frames = 9;
  request.steps = 4;
  request.guidance_scale = 5.0;
  request.seed = 42;
  request.max_sequence_length = 16;
  return request;
}

}  // namespace videogen::engine::wan::testing
