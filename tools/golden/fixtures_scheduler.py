"""Golden fixtures for the flow-matching schedulers (engine/scheduler/).

    $(tools/golden/setup_venv.sh) tools/golden/make_fixtures.py scheduler

Writes, under out_dir (tests/golden/wan_tiny):
  scheduler/scheduler_config.json       UniPCMultistepScheduler as the Wan2.1 T2V diffusers
                                        checkpoints ship it (flow_prediction, use_flow_sigmas,
                                        flow_shift 3.0; the published key set, so keys added
                                        to diffusers later take their defaults).
  scheduler_cases/<case>/scheduler_config.json
                                        Other configurations, saved by diffusers' save_config
                                        (the full 0.42.1 key set).
  scheduler_golden.safetensors          Reference values, computed by the diffusers scheduler
                                        loaded back from each config file:
    <case>.n<N>.timesteps / .sigmas     set_timesteps(N) for N in STEP_COUNTS.
    trajectory.sample                   initial sample [1,4,3,8,8] float32.
    trajectory.model_output.<k>         model output of step k (float32); the bf16 runs use
                                        .to(torch.bfloat16) of it, as the pipeline's noise_pred.
    <case>.<fp32|bf16>.step<k>          sample returned by step() k of a 10-step run (every step
                                        for the main cases), or
    <case>.<fp32|bf16>.final            only the last one (other cases).
    <case>.fp32.begin3.final            last sample of a run that starts at step 3
                                        (set_begin_index(3)), for unipc and euler.
  The sample starts float32 (the pipeline's latents); step() decides its dtype afterwards
  (UniPC keeps float32, FlowMatchEuler returns model_output's dtype).
"""

import json
import os

import safetensors.torch
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

STEP_COUNTS = (1, 2, 10, 50)
TRAJECTORY_STEPS = 10
SAMPLE_SHAPE = (1, 4, 3, 8, 8)
SEED = 20261124

# The hub's scheduler/scheduler_config.json for Wan2.1 T2V, rebuilt from the fields wan21.md 2.5
# lists for the published file plus the other UniPC keys of that era (not a byte copy). Keys
# added to diffusers later (use_dynamic_shifting, time_shift_type, sigma_min, sigma_max,
# shift_terminal) are absent and take their defaults.
HUB_UNIPC_CONFIG = {
    "_class_name": "UniPCMultistepScheduler",
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "disable_corrector": [],
    "dynamic_thresholding_ratio": 0.995,
    "final_sigmas_type": "zero",
    "flow_shift": 3.0,
    "lower_order_final": True,
    "num_train_timesteps": 1000,
    "predict_x0": True,
    "prediction_type": "flow_prediction",
    "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0,
    "solver_order": 2,
    "solver_p": None,
    "solver_type": "bh2",
    "steps_offset": 0,
    "thresholding": False,
    "timestep_spacing": "linspace",
    "trained_betas": None,
    "use_beta_sigmas": False,
    "use_exponential_sigmas": False,
    "use_flow_sigmas": True,
    "use_karras_sigmas": False,
}

_UNIPC_WAN = dict(prediction_type="flow_prediction", use_flow_sigmas=True,
                  num_train_timesteps=1000)

# case -> (class, constructor arguments, trajectories: {dtype name: every step stored?}).
# "unipc" is the hub file above; the others are saved by diffusers.
CASES = {
    "unipc": (UniPCMultistepScheduler, None, {"fp32": True, "bf16": True}),
    "euler": (FlowMatchEulerDiscreteScheduler, dict(shift=3.0), {"fp32": False, "bf16": True}),
    "unipc_shift5": (UniPCMultistepScheduler, dict(_UNIPC_WAN, flow_shift=5.0), {"bf16": False}),
    "euler_shift5": (FlowMatchEulerDiscreteScheduler, dict(shift=5.0), {"bf16": False}),
    # Orders 1 and 3 (order 3 solves for the predictor's rho). bh1 takes B(h) = hh, which is
    # -inf at a last step onto sigma 0 (diffusers then returns NaN), so it is paired with
    # final_sigmas_type "sigma_min".
    "unipc_order1": (UniPCMultistepScheduler, dict(_UNIPC_WAN, flow_shift=3.0, solver_order=1),
                     {"fp32": False}),
    "unipc_order3": (UniPCMultistepScheduler, dict(_UNIPC_WAN, flow_shift=3.0, solver_order=3),
                     {"fp32": False}),
    "unipc_order3_bh1": (UniPCMultistepScheduler,
                         dict(_UNIPC_WAN, flow_shift=3.0, solver_order=3, solver_type="bh1",
                              final_sigmas_type="sigma_min"),
                         {"fp32": False}),
    # Last sigma = the last shifted sigma instead of 0; a non-integer shift.
    "unipc_sigma_min": (UniPCMultistepScheduler,
                        dict(_UNIPC_WAN, flow_shift=2.7, final_sigmas_type="sigma_min"),
                        {"fp32": False}),
    "unipc_disable_corrector": (UniPCMultistepScheduler,
                                dict(_UNIPC_WAN, flow_shift=3.0, disable_corrector=[0, 4]),
                                {"fp32": False}),
}

# A run that starts at step 3 (set_begin_index(3)), as an image-to-video/partial denoise would.
BEGIN_INDEX = 3


def _config_dir(out_dir, case):
    if case == "unipc":
        return os.path.join(out_dir, "scheduler")
    return os.path.join(out_dir, "scheduler_cases", case)


def _write_configs(out_dir):
    for case, (cls, kwargs, _) in CASES.items():
        path = _config_dir(out_dir, case)
        os.makedirs(path, exist_ok=True)
        if kwargs is None:
            with open(os.path.join(path, "scheduler_config.json"), "w") as f:
                json.dump(HUB_UNIPC_CONFIG, f, indent=2, sort_keys=True)
                f.write("\n")
        else:
            cls(**kwargs).save_config(path)


def _load(out_dir, case):
    """The diffusers scheduler made from the config file, as the pipeline loads it."""
    cls = CASES[case][0]
    return cls.from_pretrained(_config_dir(out_dir, case))


def _run(scheduler, sample, model_outputs, dtype, begin_index=0):
    """The pipeline's loop (pipeline_wan.py) with fixed model outputs: set_timesteps,
    set_begin_index, then step() per timestep; returns every returned sample."""
    scheduler.set_timesteps(TRAJECTORY_STEPS)
    scheduler.set_begin_index(begin_index)
    results = []
    latents = sample
    for k in range(begin_index, TRAJECTORY_STEPS):
        noise_pred = model_outputs[k].to(dtype)
        latents = scheduler.step(noise_pred, scheduler.timesteps[k], latents, return_dict=False)[0]
        results.append(latents)
    return results


def generate(out_dir):
    _write_configs(out_dir)
    golden = {}
    for case in CASES:
        scheduler = _load(out_dir, case)
        for n in STEP_COUNTS:
            scheduler.set_timesteps(n)
            golden[f"{case}.n{n}.timesteps"] = scheduler.timesteps
            golden[f"{case}.n{n}.sigmas"] = scheduler.sigmas

    generator = torch.Generator().manual_seed(SEED)
    sample = torch.randn(SAMPLE_SHAPE, generator=generator)
    model_outputs = [torch.randn(SAMPLE_SHAPE, generator=generator)
                     for _ in range(TRAJECTORY_STEPS)]
    golden["trajectory.sample"] = sample
    for k, output in enumerate(model_outputs):
        golden[f"trajectory.model_output.{k}"] = output

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    for case, (_, _, runs) in CASES.items():
        for name, every_step in runs.items():
            results = _run(_load(out_dir, case), sample, model_outputs, dtypes[name])
            if every_step:
                for k, result in enumerate(results):
                    golden[f"{case}.{name}.step{k}"] = result
            else:
                golden[f"{case}.{name}.final"] = results[-1]
    for case in ("unipc", "euler"):
        results = _run(_load(out_dir, case), sample, model_outputs, torch.float32, BEGIN_INDEX)
        golden[f"{case}.fp32.begin{BEGIN_INDEX}.final"] = results[-1]

    safetensors.torch.save_file({k: v.contiguous() for k, v in golden.items()},
                                os.path.join(out_dir, "scheduler_golden.safetensors"))
