#include "engine/weights/testing/random_weights.h"

#include "ATen/ATen.h"

namespace videogen::engine::testing {

std::map<std::string, at::Tensor> RandomWeights(const ParameterShapes& shapes,
                                                const LoadOptions& policy, const at::Device& device,
                                                double scale) {
  std::map<std::string, at::Tensor> weights;
  for (const auto& [name, shape] : shapes) {
    weights[name] = (at::randn(shape, at::TensorOptions().device(device)) * scale)
                        .to(Checkpoint::TargetDType(name, policy));
  }
  return weights;
}

}  // namespace videogen::engine::testing
