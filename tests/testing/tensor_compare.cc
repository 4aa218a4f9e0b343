#include "tests/testing/tensor_compare.h"

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace videogen::testing {

double RelativeError(const at::Tensor& value, const at::Tensor& reference,
                     absl::string_view record_as) {
  const at::Tensor v = value.to(at::kCPU, at::kDouble);
  const at::Tensor r = reference.to(at::kCPU, at::kDouble);
  const double error = ((v - r).norm() / r.norm()).item<double>();
  if (!record_as.empty()) {
    ::testing::Test::RecordProperty(std::string(record_as), absl::StrCat(error));
  }
  return error;
}

}  // namespace videogen::testing
