// Random weights with a checkpoint's names, shapes and dtype policy, for benchmarks and tests of
// real-size models without their files.
#ifndef VIDEOGEN_ENGINE_WEIGHTS_TESTING_RANDOM_WEIGHTS_H_
#define VIDEOGEN_ENGINE_WEIGHTS_TESTING_RANDOM_WEIGHTS_H_

#include <map>
#include <string>

#include "ATen/core/Tensor.h"
#include "engine/weights/checkpoint.h"

namespace videogen::engine::testing {

// normal(0, scale) for every parameter, drawn on `device`, in the dtype `policy` gives it.
std::map<std::string, at::Tensor> RandomWeights(const ParameterShapes& shapes,
                                                const LoadOptions& policy, const at::Device& device,
                                                double scale = 0.02);

}  // namespace videogen::engine::testing

#endif  // VIDEOGEN_ENGINE_WEIGHTS_TESTING_RANDOM_WEIGHTS_H_
