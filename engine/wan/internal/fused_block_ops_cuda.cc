#include "ATen/ATen.h"
#include "c10/cuda/CUDAStream.h"
#include "engine/wan/internal/fused_block_ops.h"
#include "kernels/block_elementwise_cuda.h"
#include "kernels/rms_norm_rope_cuda.h"

namespace videogen::engine::wan::internal {
namespace {

using kernels::BFloat16;
using kernels::RowsShape;

bool Eligible(const at::Tensor& x) {
  return x.is_cuda() && x.dim() == 3 && x.is_contiguous() &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
}

// A [B, 1, D] float32 per-batch vector on x's device with unit stride along D.
bool EligibleVector(const at::Tensor& v, const at::Tensor& x) {
  return !v.defined() ||
         (v.device() == x.device() && v.scalar_type() == at::kFloat && v.dim() == 3 &&
          v.size(0) == x.size(0) && v.size(1) == 1 && v.size(2) == x.size(2) && v.stride(2) == 1);
}

bool EligibleAffine(const at::Tensor& w, const at::Tensor& x) {
  return !w.defined() || (w.device() == x.device() && w.scalar_type() == at::kFloat &&
                          w.dim() == 1 && w.size(0) == x.size(2) && w.is_contiguous());
}

const float* Data(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

CUstream_st* Stream(const at::Tensor& x) {
  return c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
}

void Check(const absl::Status& status) { TORCH_CHECK(status.ok(), status.ToString()); }

}  // namespace

std::optional<at::Tensor> TryFusedModulatedLayerNorm(const at::Tensor& x, const at::Tensor& weight,
                                                     const at::Tensor& bias,
                                                     const at::Tensor& scale,
                                                     const at::Tensor& shift, double eps) {
  if (!Eligible(x) || !EligibleAffine(weight, x) || !EligibleAffine(bias, x) ||
      !EligibleVector(scale, x) || !EligibleVector(shift, x) ||
      (scale.defined() && shift.defined() && scale.stride(0) != shift.stride(0))) {
    return std::nullopt;
  }
  at::Tensor out = at::empty_like(x);
  const RowsShape shape{x.size(0), x.size(1), x.size(2)};
  kernels::LayerNormArgs args;
  args.eps = static_cast<float>(eps);
  args.weight = Data(weight);
  args.bias = Data(bias);
  args.scale = Data(scale);
  args.shift = Data(shift);
  args.vector_stride = scale.defined() ? scale.stride(0) : 0;
  if (x.scalar_type() == at::kFloat) {
    Check(kernels::ModulatedLayerNormCuda<float>(shape, x.data_ptr<float>(), args,
                                                 out.data_ptr<float>(), Stream(x)));
  } else {
    Check(kernels::ModulatedLayerNormCuda<BFloat16>(
        shape, reinterpret_cast<const BFloat16*>(x.data_ptr()), args,
        reinterpret_cast<BFloat16*>(out.data_ptr()), Stream(x)));
  }
  return out;
}

std::optional<at::Tensor> TryFusedGatedResidual(const at::Tensor& residual,
                                                const at::Tensor& update, const at::Tensor& gate) {
  if (!Eligible(residual) || !Eligible(update) || update.sizes() != residual.sizes() ||
      update.scalar_type() != residual.scalar_type() || !EligibleVector(gate, residual)) {
    return std::nullopt;
  }
  at::Tensor out = at::empty_like(residual);
  const RowsShape shape{residual.size(0), residual.size(1), residual.size(2)};
  kernels::GatedResidualArgs args;
  args.gate = Data(gate);
  args.vector_stride = gate.defined() ? gate.stride(0) : 0;
  if (residual.scalar_type() == at::kFloat) {
    Check(kernels::GatedResidualCuda<float>(shape, residual.data_ptr<float>(),
                                            update.data_ptr<float>(), args, out.data_ptr<float>(),
                                            Stream(residual)));
  } else {
    Check(kernels::GatedResidualCuda<BFloat16>(
        shape, reinterpret_cast<const BFloat16*>(residual.data_ptr()),
        reinterpret_cast<const BFloat16*>(update.data_ptr()), args,
        reinterpret_cast<BFloat16*>(out.data_ptr()), Stream(residual)));
  }
  return out;
}

std::optional<at::Tensor> TryFusedRmsNormRope(const at::Tensor& x, const at::Tensor& weight,
                                              double eps, int64_t head_dim, const at::Tensor& cos,
                                              const at::Tensor& sin) {
  // Rows of x must be evenly strided (a contiguous tensor or a chunk of a wider one).
  const bool rows_ok = x.is_cuda() && x.dim() == 3 && x.stride(2) == 1 &&
                       x.stride(1) >= x.size(2) && x.stride(0) == x.stride(1) * x.size(1) &&
                       (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
  const bool weight_ok = weight.device() == x.device() && weight.scalar_type() == x.scalar_type() &&
                         weight.dim() == 1 && weight.size(0) == x.size(2) && weight.is_contiguous();
  const auto table_ok = [&](const at::Tensor& t) {
    return !t.defined() || (t.device() == x.device() && t.scalar_type() == at::kFloat &&
                            t.is_contiguous() && t.numel() == x.size(1) * head_dim);
  };
  if (!rows_ok || !weight_ok || !table_ok(cos) || !table_ok(sin) ||
      cos.defined() != sin.defined()) {
    return std::nullopt;
  }
  at::Tensor out = at::empty(x.sizes(), x.options());
  const RowsShape shape{x.size(0), x.size(1), x.size(2)};
  kernels::RmsNormRopeArgs args;
  args.head_dim = head_dim;
  args.input_row_stride = x.stride(1);
  args.eps = static_cast<float>(eps);
  args.cos = Data(cos);
  args.sin = Data(sin);
  if (x.scalar_type() == at::kFloat) {
    Check(kernels::RmsNormRopeCuda<float>(shape, x.data_ptr<float>(), weight.data_ptr<float>(),
                                          args, out.data_ptr<float>(), Stream(x)));
  } else {
    Check(kernels::RmsNormRopeCuda<BFloat16>(shape, reinterpret_cast<const BFloat16*>(x.data_ptr()),
                                             reinterpret_cast<const BFloat16*>(weight.data_ptr()),
                                             args, reinterpret_cast<BFloat16*>(out.data_ptr()),
                                             Stream(x)));
  }
  return out;
}

}  // namespace videogen::engine::wan::internal
