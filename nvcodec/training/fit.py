"""Overfitting a model to a video: Adam, cosine schedule with warm-up, an epoch or time budget.

Frames stay uint8 and become float one batch at a time. The model renders frames padded up to
its strides; the loss is taken on the crop that is the video, so padding never costs quality.
The schedule follows *progress* (the larger of epochs done / epochs and time spent / time
budget), so a wall-time budget still gets a full warm-up and cosine decay.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import parallel
from ..bitstream.container import COLORSPACES
from ..bitstream.decoder import chroma_average
from ..errors import InputError
from ..io import as_tensor
from ..metrics import psnr_from_mse, ssim_torch
from ..models import INR, Stage
from .optim import OPTIMIZERS, make_optimizer
from .rate import RateModel, RateSet, trained_stored_names
from ..resources import keep_freed_memory


@dataclass
class FitConfig:
    epochs: Optional[int] = None
    time_budget: Optional[float] = None  # seconds
    lr: Optional[float] = None  # None: the model's (INR.learning_rate; 5e-3 for NeRV)
    betas: tuple[float, float] = (0.9, 0.999)
    #: "adam", or "muon": the weight matrices stepped by Muon at ``muon_lr``, the rest by Adam
    #: (optim.py; 5e-3 screened best, bench/studies/2026-11-26-optimizer-screen/; Adam won overall)
    optimizer: str = "adam"
    muon_lr: float = 5e-3
    warmup: float = 0.1
    loss: str = "mse"  # or "l1ssim" (NeRV: 0.7 L1 + 0.3 (1 - SSIM))
    batch_size: int = 2
    seed: int = 0
    device: str = "cpu"
    bf16: Optional[bool] = None  # None: on where the CPU has avx512_bf16 (or on CUDA)
    channels_last: bool = True
    checkpoint: Optional[str] = None
    checkpoint_every: int = 50
    resume: bool = False
    quiet: bool = False
    #: rate-aware fitting: loss = D + rate_lambda * bits per pixel (None: fit in float, quantize after)
    rate_lambda: Optional[float] = None
    #: the training plan of rate-aware fitting, as shares of the budget: float until quant_start,
    #: soft rounding plus noise (annealed) until hard_start, then hard rounding (straight-through);
    #: 0.6 rather than 0.3: +0.2 dB on bikes, +0.09 on bunny at 0.05 bpp (bench/studies/2026-11-26-quant-start/)
    quant_start: float = 0.6
    hard_start: float = 0.92
    step_lr: float = 10.0  # the learning rate of the quantization steps (log scale), relative to lr
    #: "rgb", or "yuv420": the frames hold Y, U, V (chroma repeated 2x2, io.yuv420_to_444) and
    #: the distortion is (6 MSE_Y + MSE_U + MSE_V) / 8 with U, V averaged 2x2 as the decoder does
    colorspace: str = "rgb"
    #: rate control: steer lambda (from rate_lambda on) so that the rate the loss sees lands on
    #: this many bits per pixel (of the coded values; the caller leaves room for side information)
    target_bpp: Optional[float] = None
    #: the stages of the model's training plan to fit (None: all); an encode spread over
    #: processes gives each its own
    stages: Optional[list[int]] = None
    #: fit over the processes torchrun started (parallel.py): each renders its own frames of
    #: every step (``batch_size`` of them), the gradients are summed over the processes, and all
    #: step the same weights; rank 0 alone writes checkpoints. One-stage models only.
    data_parallel: bool = False
    #: progressive resolution: this share of the budget first at the model's coarse resolution
    #: (INR.coarse: without its last upsampling stage, a head of the fit's own, against frames
    #: averaged over s x s pixels; warm-up then a constant rate), the rest as always (warm-up and
    #: cosine again); 0: off, and for models without a coarse resolution
    coarse_share: float = 0.0

    def __post_init__(self):
        if self.epochs is None and self.time_budget is None:
            raise InputError("fit: give a budget, in epochs or in seconds (time_budget)")
        if self.loss not in ("mse", "l1ssim"):
            raise InputError(f"fit: unknown loss {self.loss!r}; use mse or l1ssim")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"fit: unknown optimizer {self.optimizer!r}; use {' or '.join(OPTIMIZERS)}")
        if self.colorspace not in COLORSPACES:
            raise InputError(f"fit: unknown colorspace {self.colorspace!r}; use {' or '.join(COLORSPACES)}")
        if not 0 <= self.coarse_share < 1:
            raise InputError(f"fit: coarse_share {self.coarse_share} must be at least 0 and below 1")
        if self.rate_lambda is not None and self.coarse_share > self.quant_start:
            raise InputError(f"fit: coarse_share {self.coarse_share} ends after quantization starts "
                             f"(quant_start {self.quant_start}): the coarse phase is fitted in float")
        if self.colorspace == "yuv420" and self.loss != "mse":
            raise InputError("fit: yuv420 fitting takes the mse loss (PSNR-YUV); drop --loss l1ssim")
        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise InputError(f"--device {self.device!r}: not a device; use cpu, cuda or cuda:N") from None
        if device.type not in ("cpu", "cuda"):
            raise InputError(f"--device {self.device!r}: nvcodec fits on cpu or cuda")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"--device {self.device}: no CUDA GPU is visible to torch {torch.__version__}; "
                             "use --device cpu")


@dataclass
class FitResult:
    epochs: int
    seconds: float
    psnr: float  # PSNR-RGB (PSNR-YUV for yuv420) of the last epoch (training batches; quantized where the plan had it so)
    history: list[dict] = field(default_factory=list)
    rate: Optional["RateModel"] = None  # the learned quantization of rate-aware fitting
    rate_lambda: Optional[float] = None  # the rate weight at the end (rate control moves it)
    stages: list[dict] = field(default_factory=list)  # per stage of the plan fitted: frames, epochs, steps


def steer_lambda(lam: float, bpp: float, target: float, gain: float = 0.05) -> float:
    """One step of rate control: lambda times (bpp / target)^gain, within 1e-7..1e4. A rate twice
    the target doubles lambda in 20 steps; the rate estimate is what the file spends (within ~2 %)."""
    return float(min(max(lam * (max(bpp, 1e-9) / target) ** gain, 1e-7), 1e4))


def steering_bits(rate: RateModel, model: INR, mode: str, bits: torch.Tensor, stage: Stage) -> float:
    """The rate rate control steers on: the loss's, except in the soft phase of a stage quantized
    from its start (a residual, mostly zeros), where the noise makes each zero cost a bit or so
    and the steered lambda ran away (carphone at --target-bpp 0.1 landed at 0.019): there, the
    rate of the hard-rounded values, which the file will hold."""
    if mode == "soft" and stage.quantized_from_start:
        with torch.no_grad():
            return float(rate.quantized_parameters(model, "hard")[1])
    return float(bits.detach())


def plan_stage(cfg: FitConfig, progress: float, quant_start: Optional[float] = None) -> tuple[str, float]:
    """(quantization mode, soft-rounding sharpness) at ``progress`` of a rate-aware fit (of a
    stage: ``quant_start`` overrides the config's, 0 for a stage quantized from its start)."""
    start = cfg.quant_start if quant_start is None else quant_start
    if cfg.rate_lambda is None or progress < start:
        return "float", 0.0
    if progress >= cfg.hard_start:
        return "hard", 0.0
    t = (progress - start) / max(cfg.hard_start - start, 1e-9)
    return "soft", 0.5 * 32.0 ** t  # sharpness from 0.5 (nearly the identity) to 16 (nearly rounding)


def progress_bar(cfg: FitConfig, name: str, epoch: int, seconds: float, stages: int = 1) -> tqdm:
    """The fit's bar: its total is the budget (epochs, seconds, or percent when both bind);
    a plan of several stages gives each stage the epochs."""
    if cfg.time_budget is None:
        total, unit, done = cfg.epochs * stages, "epoch", epoch
    elif cfg.epochs is None:
        total, unit, done = cfg.time_budget, "s", seconds
    else:
        total, unit, done = 100, "%", 100 * max(epoch / cfg.epochs, seconds / cfg.time_budget)
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} " + unit + " [{elapsed}<{remaining}{postfix}]"
    return tqdm(total=total, initial=done, disable=cfg.quiet, unit=unit, desc=f"fit {name}",
                dynamic_ncols=True, bar_format=fmt)


def cpu_has_bf16() -> bool:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def use_bf16(cfg: FitConfig) -> bool:
    if cfg.bf16 is not None:
        return cfg.bf16
    return cfg.device.startswith("cuda") or cpu_has_bf16()


def to_batch(frames: torch.Tensor, index: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 (T, H, W, 3) frames -> float (B, 3, H, W) in [0, 1] for the frames at ``index``."""
    x = frames[index].permute(0, 3, 1, 2).float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


def lr_factor(progress: float, warmup: float, coarse: float = 0.0) -> float:
    """The learning rate's factor at ``progress``: warm-up, then cosine to zero. Progressive
    fitting (``coarse``: the share of the coarse phase) warms up and holds the rate over the
    coarse phase, then warms up and decays over the rest."""
    if progress < coarse:
        return max(min(progress / (warmup * coarse), 1.0), 1e-3)
    if coarse:
        progress = (progress - coarse) / (1 - coarse)
    if progress < warmup:
        return max(progress / warmup, 1e-3)
    p = min((progress - warmup) / max(1 - warmup, 1e-9), 1.0)
    return 0.5 * (1 + math.cos(math.pi * p))


YUV_WEIGHTS = (6 / 8, 1 / 8, 1 / 8)  # PSNR-YUV's
FUSED_ADAM = True  # Adam's fused kernel (CPU and CUDA); bench/step_speed.py turns it off to compare


def distortion(colorspace: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The distortion a fit minimises. RGB: the MSE. yuv420: (6 MSE_Y + MSE_U + MSE_V) / 8 in
    value, with the chroma of both sides averaged over 2x2 blocks (the target's repeated chroma
    averages back exactly), but with the gradient of PSNR-YUV, (6 PSNR_Y + PSNR_U + PSNR_V) / 8:
    each plane's MSE weighted by its share over its own size. Weighted as plain MSEs, U and V,
    whose errors are ~10x smaller than Y's, were neglected: Y +0.3..+0.6 dB, U and V -1.6..-3.3 dB,
    PSNR-YUV -0.3..-0.6 dB against fitting RGB (bench/studies/2026-11-26-yuv420/yuv420-mse-weights.json)."""
    if colorspace == "rgb":
        return F.mse_loss(out, target)
    diff = (out - target).contiguous()  # averaging is linear: the chroma of the difference is the difference of the chromas
    chroma = chroma_average(diff[:, 1:])  # the decoder's
    mse = torch.cat([diff[:, :1].square().mean()[None], chroma.square().mean(dim=(0, 2, 3))])
    weights = torch.tensor(YUV_WEIGHTS, device=mse.device)
    value = (weights * mse).sum().detach()
    return value * (weights * mse / mse.detach().clamp_min(1e-12)).sum()


def loss_fn(kind: str, out: torch.Tensor, target: torch.Tensor, colorspace: str = "rgb") -> tuple[torch.Tensor, torch.Tensor]:
    """(the loss, the distortion the progress reports: MSE, or yuv420's weighted MSE)."""
    if kind == "mse":
        d = distortion(colorspace, out, target)
        return d, d.detach()
    return 0.7 * F.l1_loss(out, target) + 0.3 * (1 - ssim_torch(out, target)), distortion(colorspace, out.detach(), target)


def fit(model: INR, frames: np.ndarray | torch.Tensor, cfg: FitConfig,
        on_epoch: Optional[Callable[[int, dict], None]] = None) -> FitResult:
    """Overfit ``model`` to uint8 RGB ``frames`` (T, H, W, 3) within the budget of ``cfg``."""
    # On CUDA, cuDNN times its convolution algorithms for these shapes once and keeps the fastest.
    cuda = torch.device(cfg.device).type == "cuda"
    with torch.backends.cudnn.flags(enabled=True, benchmark=cuda, deterministic=False, allow_tf32=True):
        return _fit(model, frames, cfg, on_epoch)


def _fit(model: INR, frames: np.ndarray | torch.Tensor, cfg: FitConfig,
         on_epoch: Optional[Callable[[int, dict], None]]) -> FitResult:
    device = torch.device(cfg.device)
    frames = as_tensor(frames)  # LazyFrames (a raw file's) stay lazy: to_batch converts a batch at a time
    n, height, width = frames.shape[0], frames.shape[1], frames.shape[2]
    if frames.device != device:
        frames = frames.to(device)
    if cfg.lr is None:
        cfg = dataclasses.replace(cfg, lr=model.learning_rate)
    plan = model.training_plan()
    run = list(range(len(plan))) if cfg.stages is None else list(cfg.stages)
    multi = len(plan) > 1
    if multi and cfg.resume:
        raise InputError(f"--resume: {model.name} fits its frames in {len(plan)} stages, which are not "
                         "checkpointed; drop --resume")
    if multi and cfg.data_parallel:
        raise InputError(f"{model.name} fits its frames in {len(plan)} stages: its processes take stages, "
                         "not frames (data_parallel is for one-stage models)")
    procs = parallel.current() if cfg.data_parallel else parallel.Processes()
    if procs.size > n:
        raise InputError(f"{procs.size} processes for {n} frames: fitting data-parallel, each process needs a "
                         "frame of its own; start fewer processes")
    checkpoint = None if multi else cfg.checkpoint
    torch.manual_seed(cfg.seed)
    # The rate term drives weights towards zero; denormal floats would make CPU steps many times slower.
    torch.set_flush_denormal(True)
    keep_freed_memory()  # each step's activations reuse the last step's pages (bench/step_speed.py)
    model.to(device)
    with torch.no_grad():
        model.initialize(frames)
    parallel.same_start(list(model.parameters()), procs)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    bf16 = use_bf16(cfg)
    start_epoch, spent = 0, 0.0
    history: list[dict] = []
    resumed = None
    if cfg.resume and checkpoint and Path(checkpoint).exists():
        resumed = load_checkpoint(checkpoint, model, cfg.colorspace)
        start_epoch, spent, history = resumed.epoch, resumed.seconds, resumed.history
    began = time.perf_counter() - spent
    bar = progress_bar(cfg, model.name, start_epoch, spent, len(run))
    shares = [plan[i].share for i in run]
    # rate control over several stages: each aims at the target times its share of the budget
    # (a key group, given more time, may spend more bits than a residual), so that they add up
    norm = sum(s.share * len(s.frames) for s in plan) / sum(len(s.frames) for s in plan)
    lam = resumed.lam if resumed is not None and resumed.lam is not None else cfg.rate_lambda
    rates: dict[int, RateModel] = {}
    stage_log: list[dict] = []
    psnrs: list[tuple[float, int]] = []
    epochs_done = start_epoch
    model.train()
    # rate control: stages quantized from their start (residuals) and the others (keys) differ
    # in their natural rate by far more than their targets do; each kind steers its own lambda,
    # so that a key's large lambda does not starve the residuals after it
    lams = {False: lam, True: lam}
    for k, index in enumerate(run):
        stage = plan[index]
        lam = lams[stage.quantized_from_start]
        model.begin_stage(index, first=(k == 0))
        window = (sum(shares[:k]) / sum(shares), sum(shares[:k + 1]) / sum(shares))
        target = None if cfg.target_bpp is None else cfg.target_bpp * stage.share / norm
        out = _fit_stage(model, frames, dataclasses.replace(cfg, target_bpp=target), stage, index, window, began,
                         bar, lam, rates, on_epoch, history, epochs_done, checkpoint if procs.main else None,
                         resumed, bf16, (height, width), multi, procs)
        rate, lam, epochs, steps, psnr, seen = out
        lams[stage.quantized_from_start] = lam
        resumed = None
        epochs_done += epochs
        if rate is not None:
            rates[index] = rate
            if k + 1 < len(run):  # later stages build on exactly what the decoder will have
                rate.bake(model)
        psnrs.append((psnr, len(stage.frames)))
        stage_log.append({"stage": index, "frames": len(stage.frames), "epochs": epochs, "steps": steps,
                          "frames_fitted": seen})
    bar.close()
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    seconds = time.perf_counter() - began
    psnr = psnr_from_mse(sum(10 ** (-p / 10) * f for p, f in psnrs) / sum(f for _, f in psnrs))
    rate_out = None
    if len(rates) == 1 and not multi:
        rate_out = next(iter(rates.values()))
    elif rates:
        rate_out = RateSet(rates[i] for i in sorted(rates))
    return FitResult(epochs_done, seconds, psnr, history, rate_out, lam, stage_log)


def _fit_stage(model: INR, frames: torch.Tensor, cfg: FitConfig, stage: Stage, index: int,
               window: tuple[float, float], began: float, bar: tqdm, lam: Optional[float],
               rates: dict[int, RateModel], on_epoch, history: list[dict], epochs_before: int,
               checkpoint: Optional[str], resumed: Optional[Resumed], bf16: bool, size: tuple[int, int],
               multi: bool, procs: parallel.Processes) -> tuple[Optional[RateModel], Optional[float], int, int, float, int]:
    """Fit one stage of the plan within ``window`` (its start and end as shares of the budget),
    data-parallel over ``procs``. Returns its RateModel (or None), lambda at its end, its epochs,
    steps, last PSNR and the frames this process rendered."""
    device = frames.device
    height, width = size
    names = set(stage.params)
    trained = [p for name, p in model.named_parameters() if not names or name in names]
    for name, p in model.named_parameters():
        p.requires_grad_(not names or name in names)
    ids = {id(p) for p in trained}
    groups = [{**g, "params": [p for p in g["params"] if id(p) in ids]} for g in model.param_groups()]
    # fused: one kernel for all tensors' updates (NeRV steps x1.06 / x1.04 on bunny / bikes, bench/step_speed.py)
    optimizer = make_optimizer([g for g in groups if g["params"]], cfg.optimizer, cfg.lr, cfg.betas, cfg.muon_lr,
                               fused=FUSED_ADAM)

    def train_steps(r: RateModel) -> None:  # the quantization steps learn beside the weights
        optimizer.add_param_group({"params": list(r.parameters()), "lr": cfg.lr * cfg.step_lr, "lr_scale": cfg.step_lr})

    # progressive resolution: the coarse phase's own head (before the steps' group, as on resume)
    coarse_share = cfg.coarse_share if model.coarse is not None and not stage.quantized_from_start else 0.0
    coarse_head = None
    if coarse_share:
        stride, channels = model.coarse
        coarse_head = torch.nn.Conv2d(channels, 3, 1).to(device)
        if cfg.channels_last:
            coarse_head.to(memory_format=torch.channels_last)
        optimizer.add_param_group({"params": list(coarse_head.parameters()), "lr": cfg.lr, "lr_scale": 1.0})

    rate: Optional[RateModel] = None
    start_epoch = 0
    if resumed is not None:  # one-stage fits only
        start_epoch, rate = resumed.epoch, resumed.rate
        if rate is not None:
            model.before_quantization(frames, resumed=True)
            train_steps(rate)
        if coarse_head is not None and resumed.coarse_head is not None:
            coarse_head.load_state_dict(resumed.coarse_head)
        restore_optimizer(optimizer, resumed.optimizer, cfg.checkpoint)
    order_frames = torch.tensor(stage.frames, dtype=torch.int64)
    n = len(order_frames)
    batch = stage.batch or cfg.batch_size
    steps = math.ceil(n / (batch * procs.size))  # a step takes a batch for every process
    quant_start = 0.0 if stage.quantized_from_start else cfg.quant_start
    # the first stage starts with the fit (a resumed fit's time spent before counts towards it)
    stage_began = began if window[0] == 0 else time.perf_counter()
    deadline = None if cfg.time_budget is None else began + window[1] * cfg.time_budget

    def progress(e: float) -> float:
        p = 0.0
        if cfg.epochs is not None:
            p = max(p, e / cfg.epochs)
        if deadline is not None:
            now = time.perf_counter()
            p = max(p, 1.0 if now >= deadline else (now - stage_began) / (deadline - stage_began))
        return p

    pixels = n * height * width  # bits per pixel of the stage's frames
    stored_trained = [name for name in trained_stored_names(model) if not names or name in names]

    def new_rate() -> RateModel:
        source = rates.get(stage.steps_from) if stage.steps_from is not None else None
        return RateModel(model, stored_trained, init_steps=None if source is None else source.steps()).to(device)

    def agreed(p: float) -> float:  # rank 0's clock and lambda, so that every process steps alike
        nonlocal lam
        if procs.size == 1:
            return p
        p, lam_main = parallel.from_main([p, float("nan") if lam is None else lam], procs)
        lam = None if math.isnan(lam_main) else lam_main
        return p

    epoch, psnr, mode, bits, loss, seen = start_epoch, float("nan"), "float", None, torch.zeros(()), 0
    while epoch == start_epoch or agreed(progress(epoch)) < 1.0:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch + 7919 * index))
        sum_mse = 0.0
        for step in range(steps):
            now = agreed(min(progress(epoch + step / steps), 1.0))
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * group.get("lr_scale", 1.0) * lr_factor(now, cfg.warmup, coarse_share)
            chunk = order[step * batch * procs.size:(step + 1) * batch * procs.size]
            mine = chunk.tensor_split(procs.size)[procs.rank]  # this process's frames of the step
            share_of_step = len(mine) / len(chunk)
            idx = order_frames[mine].to(device)
            target = to_batch(frames, idx, cfg.channels_last)
            mode, alpha = plan_stage(cfg, now, quant_start)
            coarse = coarse_head is not None and now < coarse_share  # in float: coarse_share <= quant_start
            if mode != "float" and rate is None:  # the quantizers start from the weights learned so far
                model.before_quantization(frames)
                parallel.same_start(list(model.parameters()), procs)  # what it made, alike in every process
                rate = new_rate()
                train_steps(rate)
            frames_in = target if model.needs_frames else None
            params, bits = None, None
            if mode != "float":  # in float32, outside autocast: the steps and the rate stay exact
                noise = torch.Generator().manual_seed(cfg.seed * 1_000_003 + (epoch + 7919 * index) * steps + step)
                params, bits = rate.quantized_parameters(model, mode, alpha, noise)
            if len(idx):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    if coarse:
                        out = torch.sigmoid(coarse_head(model.coarse_features(idx, frames_in)))
                    elif params is None:
                        out = model(idx, frames_in)
                    else:
                        out = torch.func.functional_call(model, params, (idx, frames_in), strict=False)
                if coarse:  # the frames averaged over s x s (a partial block at the edge is left out)
                    target = F.avg_pool2d(target, stride)
                out = out[..., :target.shape[2], :target.shape[3]].float()
                if coarse:
                    loss = F.mse_loss(out, target)
                    mse = loss.detach()
                else:
                    loss, mse = loss_fn(cfg.loss, out, target, cfg.colorspace)
                if procs.size > 1:  # summed over the processes: the distortion of the whole step
                    loss = loss * share_of_step
            else:  # more processes than the step has frames: this one adds only its part of the rate
                loss, mse = torch.zeros((), device=device), torch.zeros(())
            if bits is not None:
                loss = loss + lam * bits.float() / pixels / procs.size
                if cfg.target_bpp is not None:  # more bits than the target: a larger lambda, and back
                    lam = steer_lambda(lam, steering_bits(rate, model, mode, bits, stage) / pixels, cfg.target_bpp)
            optimizer.zero_grad(set_to_none=True)
            if loss.requires_grad:
                loss.backward()
            parallel.sum_gradients((q for g in optimizer.param_groups for q in g["params"]), procs)
            optimizer.step()
            sum_mse += mse.item() * len(idx)
            seen += len(idx)
            loss = loss.detach()
        epoch += 1
        psnr = psnr_from_mse(parallel.total([sum_mse], procs)[0] / n)
        record = {"epoch": epochs_before + epoch - start_epoch if multi else epoch, "loss": float(loss),
                  "psnr": round(psnr, 3), "seconds": round(time.perf_counter() - began, 2),
                  "mode": "coarse" if coarse else mode}
        if multi:
            record["stage"] = index
        if bits is not None:
            record["bpp"] = round(float(bits.detach()) / pixels, 5)
            record["lambda"] = lam
        history.append(record)
        if not cfg.quiet:  # one refresh an epoch: the postfix waits for the update
            label = f"group {index}, " if multi else ""
            phase = record["mode"] if cfg.rate_lambda is not None or coarse else ""
            bar.set_postfix_str(f"{label}epoch {epoch}, PSNR {psnr:.2f} dB" + (f", {phase}" if phase else ""),
                                refresh=False)
            overall = window[0] + (window[1] - window[0]) * min(progress(epoch), 1.0)
            done = (epochs_before + epoch if bar.unit == "epoch" else record["seconds"] if bar.unit == "s"
                    else 100 * overall)
            bar.update(max(min(done, bar.total) - bar.n, 0))
        if on_epoch is not None:
            on_epoch(record["epoch"], record)
        if checkpoint and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
            save_checkpoint(checkpoint, model, optimizer, epoch, time.perf_counter() - began, history, rate, lam,
                            cfg.colorspace, coarse_head)
    if cfg.rate_lambda is not None and rate is None and stored_trained:
        model.before_quantization(frames)  # too short to reach its quantized phase: what it would have started
        rate = new_rate()  # from is rounded as learned
    if checkpoint:
        save_checkpoint(checkpoint, model, optimizer, epoch, time.perf_counter() - began, history, rate, lam,
                        cfg.colorspace, coarse_head)
    return rate, lam, epoch - start_epoch, (epoch - start_epoch) * steps, psnr, seen


def save_checkpoint(path: str, model: INR, optimizer, epoch: int, seconds: float, history: list,
                    rate: Optional[RateModel] = None, lam: Optional[float] = None, colorspace: str = "rgb",
                    coarse_head: Optional[torch.nn.Module] = None) -> None:
    """Everything needed to go on fitting, written atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    state = {"model": model.name, "config": model.config, "weights": model.state_dict(),
             "optimizer": optimizer.state_dict(), "epoch": epoch, "seconds": seconds, "history": history,
             "rate": None if rate is None else rate.state_dict(), "lambda": lam, "colorspace": colorspace,
             "coarse_head": None if coarse_head is None else coarse_head.state_dict()}
    torch.save(state, tmp)
    os.replace(tmp, path)


class Resumed(NamedTuple):
    """What a checkpoint gives a resumed fit (load_checkpoint has already loaded the weights)."""

    epoch: int
    seconds: float
    history: list
    rate: Optional[RateModel]  # a rate-aware fit that had begun quantizing
    lam: Optional[float]
    optimizer: dict
    coarse_head: Optional[dict]


def load_checkpoint(path: str, model: INR, colorspace: str = "rgb") -> Resumed:
    # weights_only=True: a checkpoint is parsed as tensors and plain data, never unpickled as code.
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("model") != model.name or state.get("config") != model.config:
        raise InputError(f"{path}: checkpoint is for another model or config; delete it or drop --resume")
    if state.get("colorspace", "rgb") != colorspace:
        raise InputError(f"{path}: checkpoint was fitted to {state.get('colorspace', 'rgb')}, not {colorspace}; "
                         "delete it or drop --resume")
    model.load_state_dict(state["weights"])
    rate = None
    if state.get("rate") is not None:  # a rate-aware fit that had begun quantizing
        rate = RateModel(model, trained_stored_names(model)).to(next(model.parameters()).device)
        try:
            rate.load_state_dict(state["rate"])
        except RuntimeError:
            raise InputError(f"{path}: checkpoint from another version of nvcodec's rate-aware fitting; "
                             "delete it or drop --resume") from None
    return Resumed(int(state["epoch"]), float(state["seconds"]), list(state["history"]), rate, state.get("lambda"),
                   state["optimizer"], state.get("coarse_head"))


def restore_optimizer(optimizer, state: dict, path: str) -> None:
    """The optimizer's saved state (lr and lr_scale of each group come from it)."""
    try:
        optimizer.load_state_dict(state)
    except ValueError:
        raise InputError(f"{path}: checkpoint from another version of nvcodec's fitting; delete it or drop --resume") from None
