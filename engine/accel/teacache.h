// TeaCache (Liu et al. 2024, "Timestep Embedding Tells: It's Time to Cache for Video Diffusion
// Model"): whole steps are skipped while the model's input has changed little since the last
// computed step, judged by block 0's timestep-modulated input, which is cheap to compute and
// tracks the change of the model's output.
//
// At each step t the run computes m_t = Transformer::ModulatedInput(0, Embed(latents).hidden,
// Condition(timestep, text)) and, from the second step on, its relative L1 change
//   x_t = mean(|m_t − m_{t−1}|) / mean(|m_{t−1}|)     (in float32),
// rescales it with the polynomial p of `coefficients` to an estimate of the output's change and
// accumulates it: A += max(p(x_t), 0). (A negative estimate, a fit's artifact near x = 0, counts as
// no change, so A never decreases and threshold 0 computes every step.) The step is computed if
// it is the job's first or last step (the first has nothing to reuse; the last makes the final
// prediction exact to the dense model's for its input) or A >= threshold; a computed step runs
// every block, keeps the residual R = (hidden after the blocks) − (hidden before them) and resets
// A to 0. Any other step is skipped: its output is Head(Embed(latents).hidden + R) with this
// step's conditioning. m_{t−1} is always the previous step's m, computed or not.
//
// Work (work.h): a computed step is a dense forward, a skipped step costs nothing; the modulated
// input (one LayerNorm and modulation of block 0), the embedding and the head are left out, as
// the FLOPs model leaves them out of every forward. threshold 0 is the dense model exactly (and
// the modulated input is then not computed unless changes are recorded).
//
// Calibration: published coefficients fit other models, so p is fitted per model from dense
// runs. A policy with a change_log appends each run's (x_t, y_t) pairs to it, y_t the relative L1
// change of the model's output from the previous step (same definition as x_t); with threshold 0
// the runs are dense, so a Pipeline running requests under such a policy collects the pairs of
// the dense model. FitRescaleCoefficients() fits p to them; the TeaCache authors use degree 4.
// engine/accel/teacache_calibration.h does all of this for a set of requests.
//
// Ownership and threading: the policy is its options, immutable and shareable across models and
// threads (policy.h); the change log it may share is thread-safe, so runs on any threads may
// append to it at once. A run borrows the Transformer given to Start() (which must outlive the
// run; the run does not need the policy, and holds its own reference to the change log), holds
// one branch's m_{t−1} ([1, N, D] float32) and residual ([1, N, D] run dtype; with a change log
// also the previous output, float32), and is used by one thread at a time.
#ifndef VIDEOGEN_ENGINE_ACCEL_TEACACHE_H_
#define VIDEOGEN_ENGINE_ACCEL_TEACACHE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/accel/policy.h"
#include "engine/wan/transformer.h"

namespace videogen::engine::accel {

// The (x_t, y_t) pairs that runs record for calibration, in the order they were added: a run's
// in step order, while runs sharing the log (a guided job's two CFG branches, concurrent jobs)
// interleave. With threshold > 0 the outputs of skipped steps are approximations, so calibrate on
// threshold-0 runs. Thread-safe.
class TeaCacheChangeLog {
 public:
  void Add(double input_change, double output_change) ABSL_LOCKS_EXCLUDED(mu_);
  // A copy of the pairs so far, as (input change, output change).
  std::vector<std::pair<double, double>> Pairs() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<double, double>> pairs_ ABSL_GUARDED_BY(mu_);
};

struct TeaCacheOptions {
  // Steps are skipped until the accumulated rescaled change reaches this; 0 computes every step.
  double threshold = 0.1;
  // The rescale polynomial p(x), highest power first (the default is p(x) = x, no rescaling).
  std::vector<double> coefficients = {1.0, 0.0};
  // Where every run records its steps' changes, for calibration; null records nothing. Not a
  // setting: Describe() leaves it out, so a parsed policy has none.
  std::shared_ptr<TeaCacheChangeLog> change_log;
};

class TeaCachePolicy : public Policy {
 public:
  // INVALID_ARGUMENT, naming the value, for a negative or non-finite threshold, no
  // coefficients, or a non-finite coefficient.
  static absl::StatusOr<std::unique_ptr<TeaCachePolicy>> Create(
      const TeaCacheOptions& options = {});

  const TeaCacheOptions& options() const { return options_; }

  // E.g. "teacache(threshold=0.1,coefficients=[1,0])" (numbers by FormatNumber, exact; the
  // change log is not a setting and is left out).
  std::string Describe() const override;
  // Any model fits; INVALID_ARGUMENT if steps < 1.
  absl::StatusOr<std::unique_ptr<BranchRun>> Start(const wan::Transformer& transformer,
                                                   int steps) const override;

 private:
  explicit TeaCachePolicy(const TeaCacheOptions& options) : options_(options) {}

  const TeaCacheOptions options_;
};

// The least-squares polynomial of `degree` through the points (input_changes[i],
// output_changes[i]), as TeaCacheOptions::coefficients (highest power first), computed in
// float64. INVALID_ARGUMENT if the vectors differ in length, degree < 0, a value is not finite,
// or the input changes take fewer than degree + 1 distinct values, numerically (the fit is not
// determined).
absl::StatusOr<std::vector<double>> FitRescaleCoefficients(
    const std::vector<double>& input_changes, const std::vector<double>& output_changes,
    int degree);

}  // namespace videogen::engine::accel

#endif  // VIDEOGEN_ENGINE_ACCEL_TEACACHE_H_
