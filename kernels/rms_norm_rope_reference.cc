#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/rms_norm_rope.h"

namespace videogen::kernels {

absl::Status ValidateRmsNormRopeArgs(const RowsShape& shape, const void* input, const void* weight,
                                     const RmsNormRopeArgs& args, const void* output) {
  if (shape.batch < 0 || shape.tokens < 0 || shape.hidden <= 0 || args.head_dim <= 0 ||
      args.head_dim % 2 != 0 || shape.hidden % args.head_dim != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rms norm rope: bad shape batch=", shape.batch, " tokens=", shape.tokens, " hidden=",
        shape.hidden, " head_dim=", args.head_dim, " (head_dim must be even and divide hidden)"));
  }
  if (args.input_row_stride < shape.hidden) {
    return absl::InvalidArgumentError("rms norm rope: input_row_stride < hidden");
  }
  if ((args.cos == nullptr) != (args.sin == nullptr)) {
    return absl::InvalidArgumentError("rms norm rope: cos and sin must be given together");
  }
  if (!(args.eps > 0)) return absl::InvalidArgumentError("rms norm rope: eps must be > 0");
  if (shape.batch * shape.tokens > 0 &&
      (input == nullptr || weight == nullptr || output == nullptr)) {
    return absl::InvalidArgumentError("rms norm rope: null tensor");
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status RmsNormRopeReference(const RowsShape& shape, const T* input, const T* weight,
                                  const RmsNormRopeArgs& args, T* output) {
  if (absl::Status s = ValidateRmsNormRopeArgs(shape, input, weight, args, output); !s.ok()) {
    return s;
  }
  const int64_t d = shape.hidden;
  std::vector<float> normed(d);
  for (int64_t row = 0; row < shape.batch * shape.tokens; ++row) {
    const T* x = input + row * args.input_row_stride;
    double squares = 0;  // float64: the reference is more precise than the kernel it checks.
    for (int64_t i = 0; i < d; ++i) squares += double(ToFloat(x[i])) * ToFloat(x[i]);
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(squares / d + args.eps));
    for (int64_t i = 0; i < d; ++i) {
      normed[i] = ToFloat(FromFloat<T>(ToFloat(x[i]) * inv_rms * ToFloat(weight[i])));
    }
    T* out = output + row * d;
    if (args.cos == nullptr) {
      for (int64_t i = 0; i < d; ++i) out[i] = FromFloat<T>(normed[i]);
      continue;
    }
    const int64_t token = row % shape.tokens;
    const float* cos = args.cos + token * args.head_dim;
    const float* sin = args.sin + token * args.head_dim;
    for (int64_t i = 0; i < d; i += 2) {
      const int64_t c = i % args.head_dim;
      const float a = normed[i], b = normed[i + 1];
      out[i] = FromFloat<T>(a * cos[c] - b * sin[c + 1]);
      out[i + 1] = FromFloat<T>(a * sin[c + 1] + b * cos[c]);
    }
  }
  return absl::OkStatus();
}

template absl::Status RmsNormRopeReference<float>(const RowsShape&, const float*, const float*,
                                                  const RmsNormRopeArgs&, float*);
template absl::Status RmsNormRopeReference<BFloat16>(const RowsShape&, const BFloat16*,
                                                     const BFloat16*, const RmsNormRopeArgs&,
                                                     BFloat16*);

}  // namespace videogen::kernels
