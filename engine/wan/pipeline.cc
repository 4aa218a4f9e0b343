#include "engine/wan/pipeline.h"

#include <cmath>
#include <memory>
#include <optional>
#include <utility>

#include "ATen/ATen.h"
#include "ATen/CPUGeneratorImpl.h"
#include "absl/strings/str_cat.h"
#include "c10/core/DeviceGuard.h"
#include "c10/core/InferenceMode.h"
#include "engine/common/status_macros.h"
#include "engine/common/torch_status.h"
#include "engine/scheduler/flow_scheduler_factory.h"

namespace videogen::engine::wan {

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(Components components) {
  const bool leads = components.parallel == nullptr || components.parallel->rank() == 0;
  if (!components.transformer ||
      (leads && (!components.tokenizer || !components.text_encoder || !components.vae)) ||
      (!components.vae && !components.vae_config.has_value())) {
    return absl::InvalidArgumentError(
        "pipeline: tokenizer, text encoder and VAE (on rank 0), transformer and a VAE "
        "configuration are required");
  }
  if (components.vae) components.vae_config = components.vae->config();
  if (components.parallel != nullptr &&
      components.parallel->device() != components.transformer->device()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pipeline: the parallel context is on ", components.parallel->device().str(),
                     ", the transformer on ", components.transformer->device().str()));
  }
  const TransformerConfig& transformer = components.transformer->config();
  if (components.vae_config->z_dim != transformer.in_channels ||
      components.vae_config->z_dim != transformer.out_channels) {
    return absl::InvalidArgumentError(
        absl::StrCat("pipeline: the VAE's z_dim ", components.vae_config->z_dim,
                     " differs from the transformer's in/out channels ", transformer.in_channels,
                     "/", transformer.out_channels));
  }
  if (components.text_encoder &&
      components.text_encoder->config().d_model != components.transformer->config().text_dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pipeline: the text encoder's width ", components.text_encoder->config().d_model,
        " differs from the transformer's text_dim ", components.transformer->config().text_dim));
  }
  VG_RETURN_IF_ERROR(scheduler::CreateFlowScheduler(components.scheduler_config).status());
  VG_ASSIGN_OR_RETURN(
      auto sparse, astraea::SparseTransformer::Create(*components.transformer, components.sparse));
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(components), std::move(sparse)));
}

absl::StatusOr<at::Tensor> Pipeline::PromptEmbeddings(const std::string& prompt,
                                                      int64_t max_length) const {
  const parallel::ParallelContext* parallel = components_.parallel;
  if (parallel == nullptr) return EncodePrompt(prompt, max_length);
  const bool leader = parallel->rank() == 0;
  absl::StatusOr<at::Tensor> embeds = absl::InternalError("rank 0 could not encode the prompt");
  if (leader) embeds = EncodePrompt(prompt, max_length);
  // Every rank learns whether rank 0 succeeded before waiting for its embeddings.
  VG_ASSIGN_OR_RETURN(const bool failed, AnyRank(leader && !embeds.ok(), "text encoding"));
  if (failed) return embeds.status();
  const Transformer& transformer = *components_.transformer;
  VG_RETURN_IF_ERROR(RunTorch("sharing the prompt embeddings", [&] {
    if (parallel->rank() != 0) {
      embeds =
          at::empty({1, max_length, transformer.config().text_dim},
                    at::TensorOptions().dtype(transformer.dtype()).device(transformer.device()));
    }
    parallel->Broadcast(parallel::ParallelContext::Group::kWorld, *embeds, /*root=*/0);
  }));
  return embeds;
}

absl::StatusOr<bool> Pipeline::AnyRank(bool stop, const std::string& what) const {
  const parallel::ParallelContext* parallel = components_.parallel;
  if (parallel == nullptr) return stop;
  bool any = stop;
  VG_RETURN_IF_ERROR(RunTorch(absl::StrCat("agreeing on ", what), [&] {
    at::Tensor flag =
        at::full({1}, stop ? 1 : 0, at::TensorOptions().dtype(at::kInt).device(parallel->device()));
    parallel->AllReduce(parallel::ParallelContext::Group::kWorld, flag,
                        parallel::ParallelContext::Reduction::kMax);
    any = flag.item<int>() != 0;
  }));
  return any;
}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Load(const std::string& model_dir,
                                                         c10::ScalarType dtype,
                                                         const at::Device& device,
                                                         const parallel::ParallelContext* parallel,
                                                         const astraea::SparseOptions& sparse) {
  Components components;
  components.parallel = parallel;
  components.sparse = sparse;
  if (parallel == nullptr || parallel->rank() == 0) {
    VG_ASSIGN_OR_RETURN(components.tokenizer, text::Tokenizer::Load(model_dir + "/tokenizer"));
    VG_ASSIGN_OR_RETURN(components.text_encoder,
                        text::Umt5Encoder::Load(model_dir + "/text_encoder", dtype, device));
  }
  VG_ASSIGN_OR_RETURN(components.transformer,
                      Transformer::Load(model_dir + "/transformer", dtype, device));
  VG_ASSIGN_OR_RETURN(
      components.scheduler_config,
      scheduler::LoadFlowSchedulerConfig(model_dir + "/scheduler/scheduler_config.json"));
  if (parallel == nullptr || parallel->rank() == 0) {
    VG_ASSIGN_OR_RETURN(components.vae, VaeDecoder::Load(model_dir + "/vae", at::kFloat, device));
  } else {
    VG_ASSIGN_OR_RETURN(components.vae_config, LoadVaeConfig(model_dir + "/vae/config.json"));
  }
  return Create(std::move(components));
}

Pipeline::Pipeline(Components components, std::unique_ptr<astraea::SparseTransformer> sparse)
    : components_(std::move(components)),
      vae_config_(*components_.vae_config),
      sparse_(std::move(sparse)) {
  if (components_.parallel != nullptr) {
    denoiser_ = std::make_unique<parallel::ParallelDenoiser>(*components_.transformer, *sparse_,
                                                             *components_.parallel);
  }
}

absl::Status Pipeline::Validate(const GenerateRequest& r) const {
  const TransformerConfig& config = components_.transformer->config();
  const int64_t temporal_factor = vae_config_.TemporalFactor();
  const int64_t spatial_factor = vae_config_.SpatialFactor();
  const int64_t h_multiple = spatial_factor * config.patch_h;
  const int64_t w_multiple = spatial_factor * config.patch_w;
  if (r.height < h_multiple || r.height % h_multiple != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("height ", r.height, " must be a positive multiple of ", h_multiple));
  }
  if (r.width < w_multiple || r.width % w_multiple != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("width ", r.width, " must be a positive multiple of ", w_multiple));
  }
  if (r.frames < 1 || (r.frames - 1) % temporal_factor != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("frames ", r.frames, " must be of the form ", temporal_factor, "k + 1"));
  }
  const int64_t grid[] = {((r.frames - 1) / temporal_factor + 1) / config.patch_t,
                          r.height / h_multiple, r.width / w_multiple};
  for (int64_t size : grid) {
    if (size > config.rope_max_seq_len) {
      return absl::InvalidArgumentError(
          absl::StrCat("height/width/frames too large for the model (", size,
                       " tokens along an axis, at most ", config.rope_max_seq_len, ")"));
    }
  }
  if (r.steps < 1 || r.steps > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("steps ", r.steps, " must be in [1, 1000]"));
  }
  if (!(r.guidance_scale >= 0 && r.guidance_scale <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("guidance_scale ", r.guidance_scale, " must be in [0, 100]"));
  }
  if (r.max_sequence_length < 1 || r.max_sequence_length > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_sequence_length ", r.max_sequence_length, " must be in [1, 4096]"));
  }
  if (components_.parallel != nullptr && components_.parallel->layout().cfg == 2 &&
      !(r.guidance_scale > 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("guidance_scale ", r.guidance_scale,
                     " must be > 1 on a CFG-parallel engine group (its ranks run the two "
                     "guidance branches)"));
  }
  if (r.schedule.has_value()) {
    VG_RETURN_IF_ERROR(r.schedule->Validate(r.steps));
    VG_RETURN_IF_ERROR(sparse_->NewState(*r.schedule).status());
  }
  if (r.acceleration != nullptr) {
    if (r.schedule.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a request takes a budget schedule or an acceleration policy, not both (got ",
          r.acceleration->Describe(), " and a schedule)"));
    }
    if (components_.parallel != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("acceleration policy ",
                                                     r.acceleration->Describe(),
                                                     " runs on single-process engines only"));
    }
    VG_RETURN_IF_ERROR(r.acceleration->Start(*components_.transformer, r.steps).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> Pipeline::EncodePrompt(const std::string& prompt,
                                                  int64_t max_length) const {
  if (!components_.tokenizer || !components_.text_encoder) {
    return absl::FailedPreconditionError("this rank of the engine group has no text encoder");
  }
  VG_ASSIGN_OR_RETURN(const text::Tokenizer::Encoding encoding,
                      components_.tokenizer->Encode(prompt, max_length));
  const text::Umt5Encoder& encoder = *components_.text_encoder;
  const auto options = at::TensorOptions().dtype(at::kLong);
  const at::Tensor ids = at::tensor(encoding.ids, options).unsqueeze(0).to(encoder.device());
  const at::Tensor mask = at::tensor(encoding.mask, options).unsqueeze(0).to(encoder.device());
  VG_RETURN_IF_ERROR(encoder.ValidateInputs(ids, mask));
  return RunTorchOr("text encoding", [&] {
    c10::InferenceMode inference;
    const Transformer& transformer = *components_.transformer;
    return encoder.PromptEmbeds(ids, mask).to(transformer.device(), transformer.dtype());
  });
}

at::Tensor Pipeline::InitialLatents(const GenerateRequest& r) const {
  const Transformer& transformer = *components_.transformer;
  const VaeConfig& vae = vae_config_;
  const at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(r.seed);
  const at::Tensor noise =
      at::randn({1, transformer.config().in_channels, (r.frames - 1) / vae.TemporalFactor() + 1,
                 r.height / vae.SpatialFactor(), r.width / vae.SpatialFactor()},
                generator, at::TensorOptions().dtype(at::kFloat));
  return noise.to(transformer.device());
}

int64_t Pipeline::Trajectory::StateBytes() const {
  int64_t bytes = latents_.numel() * static_cast<int64_t>(latents_.element_size());
  if (prompt_state_.has_value()) bytes += prompt_state_->CacheBytes();
  if (negative_state_.has_value()) bytes += negative_state_->CacheBytes();
  if (prompt_run_ != nullptr) bytes += prompt_run_->CacheBytes();
  if (negative_run_ != nullptr) bytes += negative_run_->CacheBytes();
  return bytes;
}

absl::StatusOr<Pipeline::Trajectory> Pipeline::Trajectory::Branch() const {
  if (prompt_run_ != nullptr || negative_run_ != nullptr) {
    return absl::FailedPreconditionError(
        "a trajectory under an acceleration policy cannot be branched");
  }
  Trajectory copy;
  copy.steps_ = steps_;
  copy.step_ = step_;
  copy.guidance_scale_ = guidance_scale_;
  copy.guided_ = guided_;
  copy.dense_step_tokens_ = dense_step_tokens_;
  copy.scheduler_ = scheduler_->Clone();
  copy.timesteps_ = timesteps_;
  copy.latents_ = latents_;
  copy.prompt_text_ = prompt_text_;
  copy.negative_text_ = negative_text_;
  VG_RETURN_IF_ERROR(RunTorch("branching a trajectory", [&] {
    c10::InferenceMode inference;
    const c10::DeviceGuard device_guard(latents_.device());
    if (prompt_state_.has_value()) copy.prompt_state_ = prompt_state_->Clone();
    if (negative_state_.has_value()) copy.negative_state_ = negative_state_->Clone();
  }));
  return copy;
}

absl::StatusOr<Pipeline::Trajectory> Pipeline::StartTrajectory(const GenerateRequest& request,
                                                               bool open_ended) const {
  VG_RETURN_IF_ERROR(Validate(request));
  if (open_ended && !request.schedule.has_value()) {
    return absl::InvalidArgumentError("an open-ended trajectory needs a schedule");
  }
  const Transformer& transformer = *components_.transformer;
  const c10::DeviceGuard device_guard(transformer.device());
  Trajectory run;
  run.steps_ = request.steps;
  run.guidance_scale_ = request.guidance_scale;
  run.guided_ = request.guidance_scale > 1.0;  // As diffusers' do_classifier_free_guidance.
  VG_ASSIGN_OR_RETURN(const at::Tensor prompt_embeds,
                      PromptEmbeddings(request.prompt, request.max_sequence_length));
  at::Tensor negative_embeds;
  if (run.guided_) {
    VG_ASSIGN_OR_RETURN(negative_embeds,
                        PromptEmbeddings(request.negative_prompt, request.max_sequence_length));
  }
  VG_ASSIGN_OR_RETURN(run.scheduler_, scheduler::CreateFlowScheduler(components_.scheduler_config));
  VG_RETURN_IF_ERROR(run.scheduler_->SetTimesteps(request.steps));
  VG_RETURN_IF_ERROR(RunTorch("initial latents", [&] {
    c10::InferenceMode inference;
    run.latents_ = InitialLatents(request);
    // Fixed for the run: computed once.
    run.prompt_text_ = transformer.EncodeText(prompt_embeds);
    if (run.guided_) run.negative_text_ = transformer.EncodeText(negative_embeds);
    run.timesteps_ = run.scheduler_->timesteps().to(transformer.device());
  }));
  // With a schedule, each CFG branch carries its own token state through the steps (in a
  // CFG-parallel run, on the ranks that run the branch).
  if (request.schedule.has_value()) {
    if (!run.guided_ || denoiser_ == nullptr || denoiser_->RunsBranch(/*prompt=*/true)) {
      VG_ASSIGN_OR_RETURN(run.prompt_state_, sparse_->NewState(*request.schedule, open_ended));
    }
    if (run.guided_ && (denoiser_ == nullptr || denoiser_->RunsBranch(/*prompt=*/false))) {
      VG_ASSIGN_OR_RETURN(run.negative_state_, sparse_->NewState(*request.schedule, open_ended));
    }
  }
  if (request.acceleration != nullptr) {
    VG_ASSIGN_OR_RETURN(run.prompt_run_, request.acceleration->Start(transformer, request.steps));
    if (run.guided_) {
      VG_ASSIGN_OR_RETURN(run.negative_run_,
                          request.acceleration->Start(transformer, request.steps));
    }
  }
  run.dense_step_tokens_ = transformer.GridOf(run.latents_).tokens() *
                           transformer.config().num_layers * (run.guided_ ? 2 : 1);
  return run;
}

absl::StatusOr<StepEvent> Pipeline::Advance(Trajectory& run, std::optional<int> level) const {
  if (run.step_ >= run.steps_) {
    return absl::InvalidArgumentError(absl::StrCat("all ", run.steps_, " steps have run"));
  }
  if (level.has_value()) {
    if (!run.prompt_state_.has_value() && !run.negative_state_.has_value()) {
      return absl::InvalidArgumentError("a step level needs a trajectory with a schedule");
    }
    if (run.prompt_state_.has_value()) {
      VG_RETURN_IF_ERROR(run.prompt_state_->SetNextLevel(*level));
    }
    if (run.negative_state_.has_value()) {
      VG_RETURN_IF_ERROR(run.negative_state_->SetNextLevel(*level));
    }
  }
  const Transformer& transformer = *components_.transformer;
  // The calling thread's current device may be another (parallel runs on several devices); the
  // engine's own kernels launch on the current one.
  const c10::DeviceGuard device_guard(transformer.device());
  auto predict = [&](const at::Tensor& input, const at::Tensor& t,
                     const Transformer::TextContext& text,
                     std::optional<astraea::SparseState>& state,
                     accel::BranchRun* accelerated) -> absl::StatusOr<at::Tensor> {
    if (accelerated != nullptr) return accelerated->Forward(input, t, text);
    if (!state.has_value()) return transformer.Forward(input, t, text);
    return sparse_->Forward(input, t, text, *state);
  };
  const bool scheduled = run.prompt_state_.has_value() || run.negative_state_.has_value();
  auto tokens_so_far = [&] {
    return (run.prompt_state_ ? run.prompt_state_->tokens_computed() : 0) +
           (run.negative_state_ ? run.negative_state_->tokens_computed() : 0);
  };
  // An acceleration policy's work, as (FLOPs, dense FLOPs) of both branches so far.
  auto flops_so_far = [&] {
    std::pair<double, double> flops{0, 0};
    for (const accel::BranchRun* branch : {run.prompt_run_.get(), run.negative_run_.get()}) {
      if (branch == nullptr) continue;
      flops.first += branch->flops();
      flops.second += branch->dense_flops();
    }
    return flops;
  };
  const int i = run.step_;
  at::Tensor noise_pred;
  absl::Status predicted;
  const int64_t tokens_before = tokens_so_far();
  const std::pair<double, double> flops_before = flops_so_far();
  VG_RETURN_IF_ERROR(RunTorch(absl::StrCat("denoising step ", i + 1), [&] {
    c10::InferenceMode inference;
    const at::Tensor input = run.latents_.to(transformer.dtype());
    const at::Tensor t = run.timesteps_.slice(0, i, i + 1).expand({run.latents_.size(0)});
    if (denoiser_ != nullptr) {
      // Each rank runs its branches over its shard of the tokens; all end with the same result.
      auto branch = [&](const Transformer::TextContext& text,
                        std::optional<astraea::SparseState>& state) {
        return parallel::ParallelDenoiser::Branch{&text, state ? &*state : nullptr};
      };
      absl::StatusOr<at::Tensor> guided = denoiser_->Predict(
          input, t, branch(run.prompt_text_, run.prompt_state_),
          branch(run.negative_text_, run.negative_state_), run.guided_, run.guidance_scale_);
      if (guided.ok()) {
        noise_pred = *std::move(guided);
      } else {
        predicted = guided.status();
      }
      return;
    }
    absl::StatusOr<at::Tensor> cond =
        predict(input, t, run.prompt_text_, run.prompt_state_, run.prompt_run_.get());
    if (!cond.ok()) {
      predicted = cond.status();
      return;
    }
    noise_pred = *std::move(cond);
    if (run.guided_) {
      // diffusers: two passes, combined in the transformer's dtype. (One batch-2 pass is not
      // faster on the H100: 262.5 ms against 2 x 128.7 ms at N = 14040, bench/results/.)
      absl::StatusOr<at::Tensor> uncond =
          predict(input, t, run.negative_text_, run.negative_state_, run.negative_run_.get());
      if (!uncond.ok()) {
        predicted = uncond.status();
        return;
      }
      noise_pred = *uncond + run.guidance_scale_ * (noise_pred - *uncond);
    }
  }));
  VG_RETURN_IF_ERROR(predicted);
  // The scheduler reports argument errors as a status and LibTorch failures by throwing.
  auto next = RunTorchOr(absl::StrCat("scheduler step ", i + 1), [&] {
    c10::InferenceMode inference;
    return run.scheduler_->Step(noise_pred, i, run.latents_);
  });
  if (!next.ok()) return next.status();
  VG_ASSIGN_OR_RETURN(run.latents_, *std::move(next));
  ++run.step_;
  int64_t step_tokens = scheduled ? tokens_so_far() - tokens_before : run.dense_step_tokens_;
  if (run.prompt_run_ != nullptr) {
    const std::pair<double, double> flops = flops_so_far();
    step_tokens =
        std::llround(static_cast<double>(run.dense_step_tokens_) *
                     (flops.first - flops_before.first) / (flops.second - flops_before.second));
  }
  if (scheduled && components_.parallel != nullptr) {
    VG_RETURN_IF_ERROR(RunTorch("counting the group's tokens", [&] {
      at::Tensor count =
          at::full({1}, step_tokens,
                   at::TensorOptions().dtype(at::kLong).device(components_.parallel->device()));
      components_.parallel->AllReduce(parallel::ParallelContext::Group::kWorld, count,
                                      parallel::ParallelContext::Reduction::kSum);
      step_tokens = count.item<int64_t>();
    }));
  }
  return StepEvent{i + 1, run.steps_, step_tokens, run.dense_step_tokens_};
}

absl::StatusOr<at::Tensor> Pipeline::GenerateLatents(const GenerateRequest& request,
                                                     const StepCallback& on_step,
                                                     const CancelCheck& cancelled,
                                                     const StageCallback& on_stage) const {
  VG_RETURN_IF_ERROR(Validate(request));
  if (on_stage) on_stage(Stage::kTextEncoding);
  VG_ASSIGN_OR_RETURN(Trajectory run, StartTrajectory(request));
  if (on_stage) on_stage(Stage::kDenoising);
  while (run.steps_done() < run.steps()) {
    VG_ASSIGN_OR_RETURN(const bool stop, AnyRank(cancelled && cancelled(), "cancellation"));
    if (stop) {
      return absl::CancelledError(
          absl::StrCat("cancelled before step ", run.steps_done() + 1, " of ", request.steps));
    }
    VG_ASSIGN_OR_RETURN(const StepEvent event, Advance(run));
    if (on_step) on_step(event);
  }
  return run.latents_;
}

absl::StatusOr<at::Tensor> Pipeline::DecodeFrames(const at::Tensor& latents,
                                                  const VaeDecodeOptions& options) const {
  if (!components_.vae) {
    return absl::FailedPreconditionError("this rank of the engine group has no VAE decoder");
  }
  const VaeDecoder& vae = *components_.vae;
  VG_RETURN_IF_ERROR(vae.Validate(latents, options));
  if (latents.size(0) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DecodeFrames takes the latents of one video, got a batch of ", latents.size(0)));
  }
  return RunTorchOr("VAE decode", [&] {
    c10::InferenceMode inference;
    return ToUint8Frames(vae.Decode(latents, options))[0];
  });
}

absl::StatusOr<at::Tensor> Pipeline::Generate(const GenerateRequest& request,
                                              const StepCallback& on_step,
                                              const CancelCheck& cancelled,
                                              const StageCallback& on_stage) const {
  VG_ASSIGN_OR_RETURN(const at::Tensor latents,
                      GenerateLatents(request, on_step, cancelled, on_stage));
  return FinishFrames(latents, cancelled, on_stage);
}

absl::StatusOr<at::Tensor> Pipeline::FinishFrames(const at::Tensor& latents,
                                                  const CancelCheck& cancelled,
                                                  const StageCallback& on_stage) const {
  if (cancelled && cancelled()) return absl::CancelledError("cancelled before the VAE decode");
  if (on_stage) on_stage(Stage::kVaeDecoding);
  return DecodeFrames(latents);
}

}  // namespace videogen::engine::wan
