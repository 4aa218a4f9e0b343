#include "engine/scheduler/unipc_flow_scheduler.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "ATen/ATen.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/scheduler/internal/numpy_math.h"

namespace videogen::engine::scheduler {
namespace {

// Every tensor expression below follows diffusers' Python expression for expression, operand
// order included: a 0-dim float32 tensor times a bf16 tensor is computed in bf16, Python's
// `1 - t`, `0 + t` and `t * 0` are rsub/add/mul with an integer scalar, and so on. Reordering
// would change float32 rounding and break the bit-exact golden tests.

// lambda(sigma) = log(alpha) - log(sigma) with alpha = 1 - sigma (flow parametrisation).
at::Tensor LogSnr(const at::Tensor& sigma) {
  return at::sub(at::log(at::rsub(sigma, 1)), at::log(sigma));
}

// The B(h) terms shared by predictor and corrector for a step of log-SNR length h.
struct BhTerms {
  at::Tensor hh;       // -h (data prediction).
  at::Tensor h_phi_1;  // expm1(hh).
  at::Tensor b_h;      // hh (bh1) or expm1(hh) (bh2).
  at::Tensor r;        // [order, order]: row i = rks^i (only when the system is needed).
  at::Tensor b;        // [order].
};

BhTerms ComputeBh(const at::Tensor& h, const at::Tensor& rks, int order,
                  FlowSchedulerConfig::SolverType solver_type, bool with_system) {
  BhTerms terms;
  terms.hh = at::neg(h);
  terms.h_phi_1 = at::expm1(terms.hh);
  at::Tensor h_phi_k = at::sub(at::div(terms.h_phi_1, terms.hh), 1);
  terms.b_h = solver_type == FlowSchedulerConfig::SolverType::kBh1 ? terms.hh : at::expm1(terms.hh);
  if (!with_system) return terms;
  std::vector<at::Tensor> r, b;
  int64_t factorial_i = 1;
  for (int i = 1; i <= order; ++i) {
    r.push_back(at::pow(rks, static_cast<int64_t>(i - 1)));
    b.push_back(at::div(at::mul(h_phi_k, factorial_i), terms.b_h));
    factorial_i *= i + 1;
    h_phi_k = at::sub(at::div(h_phi_k, terms.hh), 1.0 / static_cast<double>(factorial_i));
  }
  terms.r = at::stack(r);
  terms.b = at::stack(b);
  return terms;
}

// sum_k rhos[k] * d1s[:, k] over the stacked differences [B, K, C, ...].
at::Tensor Combine(const at::Tensor& rhos, const at::Tensor& d1s) {
  return at::einsum("k,bkc...->bc...", {rhos, d1s});
}

}  // namespace

absl::StatusOr<std::unique_ptr<UniPcFlowScheduler>> UniPcFlowScheduler::Create(
    const FlowSchedulerConfig& config) {
  if (!config.is_unipc()) {
    return absl::InvalidArgumentError(absl::StrCat("UniPcFlowScheduler needs _class_name ",
                                                   kUniPcClassName, ", not ", config.class_name));
  }
  VG_RETURN_IF_ERROR(ValidateFlowSchedulerConfig(config));
  return std::unique_ptr<UniPcFlowScheduler>(new UniPcFlowScheduler(config));
}

UniPcFlowScheduler::UniPcFlowScheduler(const FlowSchedulerConfig& config) : config_(config) {
  Reset();
}

absl::Status UniPcFlowScheduler::SetTimesteps(int num_steps) {
  const int64_t train = config_.num_train_timesteps;
  if (num_steps < 1 || num_steps > train) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_steps = ", num_steps, " is outside [1, num_train_timesteps = ", train, "]"));
  }
  // NumPy float64, as diffusers' set_timesteps (use_flow_sigmas branch).
  std::vector<double> sigmas =
      internal::NumpyLinspace(1.0, 1.0 / static_cast<double>(train), num_steps + 1);
  sigmas.pop_back();
  for (double& sigma : sigmas) sigma = internal::ShiftSigma(config_.shift, sigma);
  // Keeps log(alpha) finite at the first predictor step.
  constexpr double kEps = 1e-6;
  if (std::fabs(sigmas[0] - 1) < kEps) sigmas[0] -= kEps;

  at::Tensor timesteps = at::empty({num_steps}, at::kLong);
  at::Tensor sigmas32 = at::empty({num_steps + 1}, at::kFloat);
  auto t = timesteps.accessor<int64_t, 1>();
  auto s = sigmas32.accessor<float, 1>();
  for (int j = 0; j < num_steps; ++j) {
    // float64 -> int64 truncates toward zero (999.999 -> 999), as torch's .to(int64).
    t[j] = static_cast<int64_t>(sigmas[j] * static_cast<double>(train));
    s[j] = static_cast<float>(sigmas[j]);
  }
  s[num_steps] = config_.final_sigmas_type == FlowSchedulerConfig::FinalSigma::kZero
                     ? 0.0f
                     : static_cast<float>(sigmas[num_steps - 1]);
  timesteps_ = std::move(timesteps);
  sigmas_ = std::move(sigmas32);
  num_steps_ = num_steps;
  Reset();
  return absl::OkStatus();
}

void UniPcFlowScheduler::Reset() {
  model_outputs_.assign(config_.solver_order, at::Tensor());
  last_sample_ = at::Tensor();
  lower_order_nums_ = 0;
  this_order_ = 0;
  next_index_ = -1;
  sample_shape_.clear();
}

absl::StatusOr<at::Tensor> UniPcFlowScheduler::Step(const at::Tensor& model_output, int k,
                                                    const at::Tensor& sample) {
  VG_RETURN_IF_ERROR(
      CheckStepArguments(model_output, k, sample, num_steps_, next_index_, sample_shape_));
  const auto& disabled = config_.disable_corrector;
  const bool use_corrector = k > 0 &&
                             std::find(disabled.begin(), disabled.end(), k - 1) == disabled.end() &&
                             last_sample_.defined();

  // x0 = x - sigma * v with sigma a CPU 0-dim float32 tensor: the product has model_output's
  // dtype (bf16 in the pipeline), the difference the sample's (float32). With sigma as the first
  // operand ATen's CPU kernel rounds sigma to bf16 before multiplying (v * sigma would not):
  // keep the order.
  at::Tensor converted = at::sub(sample, at::mul(sigmas_[k], model_output));
  at::Tensor current = sample;
  if (use_corrector) current = Correct(k, converted, last_sample_, sample, this_order_);

  std::rotate(model_outputs_.begin(), model_outputs_.begin() + 1, model_outputs_.end());
  model_outputs_.back() = std::move(converted);

  int order = static_cast<int>(config_.solver_order);
  if (config_.lower_order_final) order = std::min(order, num_steps_ - k);
  this_order_ = std::min(order, lower_order_nums_ + 1);

  last_sample_ = current;
  at::Tensor next = Predict(k, current, this_order_);
  lower_order_nums_ = std::min<int>(lower_order_nums_ + 1, config_.solver_order);
  next_index_ = k + 1;
  sample_shape_ = sample.sizes().vec();
  return next;
}

at::Tensor UniPcFlowScheduler::Predict(int k, const at::Tensor& x, int order) const {
  const c10::Device device = x.device();
  const at::Tensor& m0 = model_outputs_.back();
  const at::Tensor sigma_t = sigmas_[k + 1].to(device);
  const at::Tensor sigma_s0 = sigmas_[k].to(device);
  const at::Tensor alpha_t = at::rsub(sigma_t, 1);
  const at::Tensor lambda_s0 = LogSnr(sigma_s0);
  // At the last step sigma_t may be 0: lambda_t = +inf, h = inf, expm1(-inf) = -1, and the
  // order-1 update below returns m0 exactly, as in diffusers.
  const at::Tensor h = at::sub(LogSnr(sigma_t), lambda_s0);

  std::vector<at::Tensor> rks, d1s;
  for (int i = 1; i < order; ++i) {
    const at::Tensor& mi = model_outputs_[model_outputs_.size() - 1 - i];
    const at::Tensor rk = at::div(at::sub(LogSnr(sigmas_[k - i].to(device)), lambda_s0), h);
    rks.push_back(rk);
    d1s.push_back(at::div(at::sub(mi, m0), rk));
  }
  rks.push_back(at::ones({}, at::TensorOptions().dtype(at::kFloat).device(device)));
  // Order 2 takes rho = 0.5 without solving; higher orders solve the leading (order-1) system.
  const BhTerms terms =
      ComputeBh(h, at::stack(rks), order, config_.solver_type, /*with_system=*/order > 2);

  const at::Tensor x_t_ =
      at::sub(at::mul(at::div(sigma_t, sigma_s0), x), at::mul(at::mul(alpha_t, terms.h_phi_1), m0));
  const at::Tensor scale = at::mul(alpha_t, terms.b_h);
  at::Tensor x_t;
  if (d1s.empty()) {
    x_t = at::sub(x_t_, at::mul(scale, 0));
  } else {
    at::Tensor rhos_p;
    if (order == 2) {
      rhos_p =
          at::mul(at::ones({1}, at::TensorOptions().dtype(x.scalar_type()).device(device)), 0.5);
    } else {
      rhos_p = at::linalg_solve(terms.r.slice(0, 0, -1).slice(1, 0, -1), terms.b.slice(0, 0, -1))
                   .to(device)
                   .to(x.scalar_type());
    }
    x_t = at::sub(x_t_, at::mul(scale, Combine(rhos_p, at::stack(d1s, 1))));
  }
  return x_t.to(x.scalar_type());
}

at::Tensor UniPcFlowScheduler::Correct(int k, const at::Tensor& model_output,
                                       const at::Tensor& last_sample, const at::Tensor& sample,
                                       int order) const {
  const c10::Device device = sample.device();
  const at::Tensor& m0 = model_outputs_.back();
  const at::Tensor& x = last_sample;
  const at::Tensor sigma_t = sigmas_[k].to(device);
  const at::Tensor sigma_s0 = sigmas_[k - 1].to(device);
  const at::Tensor alpha_t = at::rsub(sigma_t, 1);
  const at::Tensor lambda_s0 = LogSnr(sigma_s0);
  const at::Tensor h = at::sub(LogSnr(sigma_t), lambda_s0);

  std::vector<at::Tensor> rks, d1s;
  for (int i = 1; i < order; ++i) {
    const at::Tensor& mi = model_outputs_[model_outputs_.size() - 1 - i];
    const at::Tensor rk = at::div(at::sub(LogSnr(sigmas_[k - (i + 1)].to(device)), lambda_s0), h);
    rks.push_back(rk);
    d1s.push_back(at::div(at::sub(mi, m0), rk));
  }
  rks.push_back(at::ones({}, at::TensorOptions().dtype(at::kFloat).device(device)));
  const BhTerms terms =
      ComputeBh(h, at::stack(rks), order, config_.solver_type, /*with_system=*/order > 1);

  const at::Tensor rhos_c =
      order == 1
          ? at::mul(at::ones({1}, at::TensorOptions().dtype(x.scalar_type()).device(device)), 0.5)
          : at::linalg_solve(terms.r, terms.b).to(device).to(x.scalar_type());

  const at::Tensor x_t_ =
      at::sub(at::mul(at::div(sigma_t, sigma_s0), x), at::mul(at::mul(alpha_t, terms.h_phi_1), m0));
  const at::Tensor d1_t = at::sub(model_output, m0);
  const at::Tensor last_term = at::mul(rhos_c.select(0, -1), d1_t);
  // Python's `corr_res + rhos_c[-1] * D1_t` with corr_res = 0 (no history) is `0 + tensor`.
  const at::Tensor correction =
      d1s.empty() ? at::add(last_term, 0)
                  : at::add(Combine(rhos_c.slice(0, 0, -1), at::stack(d1s, 1)), last_term);
  const at::Tensor x_t = at::sub(x_t_, at::mul(at::mul(alpha_t, terms.b_h), correction));
  return x_t.to(x.scalar_type());
}

}  // namespace videogen::engine::scheduler
