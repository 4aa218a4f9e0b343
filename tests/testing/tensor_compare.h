// Comparing LibTorch tensors in tests.
#ifndef VIDEOGEN_TESTS_TESTING_TENSOR_COMPARE_H_
#define VIDEOGEN_TESTS_TESTING_TENSOR_COMPARE_H_

#include <string>

#include "ATen/core/Tensor.h"
#include "absl/strings/string_view.h"

namespace videogen::testing {

// ||value - reference|| / ||reference|| computed in float64 on the CPU (any devices and dtypes).
// If `record_as` is not empty, the value is also recorded as that property of the running test
// (it appears in the test's XML output), so measured errors are visible, not just bounded.
double RelativeError(const at::Tensor& value, const at::Tensor& reference,
                     absl::string_view record_as = "");

}  // namespace videogen::testing

#endif  // VIDEOGEN_TESTS_TESTING_TENSOR_COMPARE_H_
