#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/block_elementwise.h"

namespace videogen::kernels {
namespace {

absl::Status ValidateShape(const RowsShape& shape, absl::string_view op) {
  if (shape.batch < 0 || shape.tokens < 0 || shape.hidden <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": bad shape batch=", shape.batch, " tokens=", shape.tokens, " hidden=", shape.hidden));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateLayerNormArgs(const RowsShape& shape, const void* input,
                                   const LayerNormArgs& args, const void* output) {
  if (absl::Status s = ValidateShape(shape, "modulated layer norm"); !s.ok()) return s;
  if ((args.weight == nullptr) != (args.bias == nullptr) ||
      (args.scale == nullptr) != (args.shift == nullptr)) {
    return absl::InvalidArgumentError(
        "modulated layer norm: weight/bias and scale/shift must each be given together");
  }
  if (!(args.eps > 0)) return absl::InvalidArgumentError("modulated layer norm: eps must be > 0");
  if (args.scale != nullptr && args.vector_stride < shape.hidden && shape.batch > 1) {
    return absl::InvalidArgumentError("modulated layer norm: vector_stride < hidden");
  }
  if (shape.batch * shape.tokens > 0 && (input == nullptr || output == nullptr)) {
    return absl::InvalidArgumentError("modulated layer norm: null tensor");
  }
  return absl::OkStatus();
}

absl::Status ValidateGatedResidualArgs(const RowsShape& shape, const void* residual,
                                       const void* update, const GatedResidualArgs& args,
                                       const void* output) {
  if (absl::Status s = ValidateShape(shape, "gated residual"); !s.ok()) return s;
  if (args.gate != nullptr && args.vector_stride < shape.hidden && shape.batch > 1) {
    return absl::InvalidArgumentError("gated residual: vector_stride < hidden");
  }
  if (shape.batch * shape.tokens > 0 &&
      (residual == nullptr || update == nullptr || output == nullptr)) {
    return absl::InvalidArgumentError("gated residual: null tensor");
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status ModulatedLayerNormReference(const RowsShape& shape, const T* input,
                                         const LayerNormArgs& args, T* output) {
  if (absl::Status s = ValidateLayerNormArgs(shape, input, args, output); !s.ok()) return s;
  const int64_t d = shape.hidden;
  std::vector<float> row(d);
  for (int64_t b = 0; b < shape.batch; ++b) {
    for (int64_t t = 0; t < shape.tokens; ++t) {
      const int64_t offset = (b * shape.tokens + t) * d;
      // Statistics in float64: the reference is more precise than the kernels it checks.
      double sum = 0;
      for (int64_t i = 0; i < d; ++i) sum += row[i] = ToFloat(input[offset + i]);
      const double mean = sum / d;
      double squares = 0;
      for (int64_t i = 0; i < d; ++i) squares += (row[i] - mean) * (row[i] - mean);
      const float inv_std = static_cast<float>(1.0 / std::sqrt(squares / d + args.eps));
      for (int64_t i = 0; i < d; ++i) {
        float y = (row[i] - static_cast<float>(mean)) * inv_std;
        if (args.weight != nullptr) y = y * args.weight[i] + args.bias[i];
        if (args.scale != nullptr) {
          y = y * (1.0f + args.scale[b * args.vector_stride + i]) +
              args.shift[b * args.vector_stride + i];
        }
        output[offset + i] = FromFloat<T>(y);
      }
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status GatedResidualReference(const RowsShape& shape, const T* residual, const T* update,
                                    const GatedResidualArgs& args, T* output) {
  if (absl::Status s = ValidateGatedResidualArgs(shape, residual, update, args, output); !s.ok()) {
    return s;
  }
  const int64_t d = shape.hidden;
  for (int64_t b = 0; b < shape.batch; ++b) {
    for (int64_t t = 0; t < shape.tokens; ++t) {
      const int64_t offset = (b * shape.tokens + t) * d;
      for (int64_t i = 0; i < d; ++i) {
        float u = ToFloat(update[offset + i]);
        if (args.gate != nullptr) u = u * args.gate[b * args.vector_stride + i];
        output[offset + i] = FromFloat<T>(ToFloat(residual[offset + i]) + u);
      }
    }
  }
  return absl::OkStatus();
}

#define VG_INSTANTIATE(T)                                                               \
  template absl::Status ModulatedLayerNormReference<T>(const RowsShape&, const T*,      \
                                                       const LayerNormArgs&, T*);       \
  template absl::Status GatedResidualReference<T>(const RowsShape&, const T*, const T*, \
                                                  const GatedResidualArgs&, T*);
VG_INSTANTIATE(float)
VG_INSTANTIATE(BFloat16)
#undef VG_INSTANTIATE

}  // namespace videogen::kernels
