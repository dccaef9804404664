"""The encode pipeline: read -> fit -> quantize -> entropy-code -> one .nvc file."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..bitstream.container import COLORSPACES, write_container
from ..bitstream.decoder import Bitstream, load_bitstream, render
from ..bitstream.entropy import QuantizedArray, pack_tensors, scale_count
from ..errors import InputError, OutputError
from .fit import FitConfig, FitResult, fit
from ..io import (Video, VideoInfo, as_tensor, check_writable, read_video, rgb_frames_to_yuv420, write_atomic,
                 yuv420_to_444)
from ..metrics import frame_psnr, frames_sha256
from ..models import INR, model_class
from ..bitstream.quant import dequantize_tensors, quantize_tensors
from .parallel import Processes, device_for, gather, share, start
from .rate import RateModel, RateSet, check_quality, quality_to_lambda
from .scenecut import scene_cuts

DEFAULT_MODEL = "hinerv"
DEFAULT_QUALITY = 24
PTQ_DEFAULT_PARAMS = 100_000


def default_params(quality: Optional[int]) -> int:
    """The network's size when none is given: with a quality, a size that halves every 9 steps of
    the quality number; else the earlier 100k. Not a share of the pixels: under a wall-time budget
    a larger video also gets fewer epochs, and the best size came out the same on carphone and
    bunny (bench/results/quality-sizes.json: 150k of 20k / 60k / 150k at quality 18, 60k at 30)."""
    if quality is None:
        return PTQ_DEFAULT_PARAMS
    return int(PARAMS_AT_DEFAULT_QUALITY * 2.0 ** ((DEFAULT_QUALITY - quality) / 9))


PARAMS_AT_DEFAULT_QUALITY = 95_000
#: rate control pairs a target with the size and lambda the --quality ladder pairs with files of
#: that size and rate. On the ladder (bench/studies/2026-11-26-quantizer-overhead/*/nvcodec-nerv-rd-120s-slowquant.json:
#: carphone, bunny, bikes) a file at the default quality held 261k, 394k and 455k bits (median
#: 394k) at 0.086, 0.052 and 0.042 bpp (median 0.052); from quality 36 to 6 the size grew as the
#: file's bits to the power 0.70, 0.76 and 0.79, and the rate doubled every 6.3, 6.6 and 6.9
#: quality steps.
BITS_AT_DEFAULT_QUALITY = 394_000
BPP_AT_DEFAULT_QUALITY = 0.052
SIZE_EXPONENT = 0.75
QUALITY_STEPS_PER_DOUBLING = 6.6


def rate_control_start(target_bpp: float, pixels: int) -> tuple[int, float]:
    """(parameters, quality) that rate control starts from for ``target_bpp`` over ``pixels``:
    the size the quality ladder gives files of that many bits (fewer parameters than bits / 4 at
    high rates, where a larger network gets too few epochs on a CPU budget; at most quality 0's
    size), and the quality number the ladder gives that rate (lambda weighs bits per pixel, so
    its start follows the rate, not the size); lambda is steered from there."""
    ratio = max(target_bpp * pixels, 1.0) / BITS_AT_DEFAULT_QUALITY
    params = int(min(max(PARAMS_AT_DEFAULT_QUALITY * ratio ** SIZE_EXPONENT, 2_000), default_params(0)))
    quality = DEFAULT_QUALITY - QUALITY_STEPS_PER_DOUBLING * math.log2(target_bpp / BPP_AT_DEFAULT_QUALITY)
    return params, min(max(quality, 0.0), 51.0)


def side_information_bytes(model: INR, info: VideoInfo) -> int:
    """About what a file of ``model`` spends besides coded values: header and framing, a float16
    step per group and a few bytes of entropy model per tensor."""
    header = len(json.dumps(header_for(model, info)))
    return header + 64 + sum(2 * scale_count(t.shape) + 8 for t in model.stored_tensors().values())


@dataclass
class EncodeResult:
    output: str
    model: str
    parameters: int
    bytes: int
    bpp: float
    #: PSNR-RGB of what the standalone decoder renders from the file written, on the CPU (the
    #: file's score on any machine: the file was decoded here to take it)
    psnr: float
    #: PSNR-RGB of the network as fitting left it, its weights not yet rounded to the file's
    #: integers, rendered on the fit's device. After a rate-aware (quantization-aware) fit the
    #: weights were trained to be rounded, so this can sit below ``psnr``. None where the fitted
    #: weights are not all in this process (a model fitted in parts over processes).
    psnr_float: Optional[float]
    encode_s: float
    fit: FitResult = field(repr=False)
    info: VideoInfo = field(repr=False)
    quality: Optional[int] = None
    #: rate-aware fits: the bits the loss saw for the values of the tensors it quantized, and the
    #: bits the file spends on those values (without side information: steps, entropy models)
    estimated_bits: Optional[float] = None
    coded_bits: Optional[int] = None
    target_bpp: Optional[float] = None
    #: an encode spread over processes: what each fitted (rank, steps, seconds, and its groups
    #: where the model is fitted in parts, or the frames it rendered where it is data-parallel)
    processes: Optional[list[dict]] = None
    #: SHA-256 of the uint8 RGB reference frames the scores are taken against (metrics.frames_sha256)
    reference_sha256: Optional[str] = None


def check_output(path: str | os.PathLike) -> Path:
    """Fail now, not after an hour of fitting, if ``path`` cannot be written."""
    path = Path(path)
    check_writable(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name such as out.nvc")
    return path


def header_for(model: INR, info: VideoInfo) -> dict[str, Any]:
    return {"model": model.name, "config": model.config, "width": info.width, "height": info.height,
            "frames": info.frames, "fps": [info.fps.numerator, info.fps.denominator],
            "matrix": info.matrix, "range": info.range,
            **({"colorspace": info.colorspace} if info.colorspace != "rgb" else {})}


@torch.no_grad()
def render_all(model: INR, info: VideoInfo, batch_size: Optional[int] = None) -> np.ndarray:
    return np.concatenate(list(render(model, info, list(range(info.frames)), batch_size)))


def psnr_of(model: INR, video: Video, batch_size: Optional[int] = None) -> float:
    """PSNR-RGB of the model's frames against the video's, rendered batch by batch (no copy of the
    video) on the model's device; on CUDA in full float32 (no TF32), close to but not always bit
    for bit what the CPU decoder renders (cuDNN's algorithms round differently)."""
    scores, start = [], 0
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=False):
        for batch in render(model, video.info, list(range(video.info.frames)), batch_size):
            scores.append(frame_psnr(batch, video.frames[start:start + len(batch)]))
            start += len(batch)
    return float(np.mean(np.minimum(np.concatenate(scores), 100.0)))


def psnr_of_file(stream: Bitstream, video: Video) -> float:
    """PSNR-RGB of what the standalone decoder renders from a loaded file on the CPU, batch by batch."""
    scores, start = [], 0
    for batch in render(stream.model, stream.info, list(range(stream.info.frames))):
        scores.append(frame_psnr(batch, video.frames[start:start + len(batch)]))
        start += len(batch)
    return float(np.mean(np.minimum(np.concatenate(scores), 100.0)))


def compress(model: INR, info: VideoInfo, bits: int = 8, rate: Optional[RateModel | RateSet] = None,
             learned: Optional[dict[str, QuantizedArray]] = None) -> bytes:
    """Quantize ``model`` in place (it becomes what the decoder will rebuild) and return the
    file's bytes. With ``rate`` (a rate-aware fit), the tensors it trained go in as the integers
    and steps it learned (or ``learned`` gives them: an encode spread over processes); the
    others are quantized to ``bits``. A model of several chunks gets an index of them."""
    model.to(device="cpu", dtype=torch.float32)
    learned = learned if learned is not None else rate.export(model) if rate is not None else {}
    stored = model.stored_tensors()
    quantized = {**quantize_tensors({k: v for k, v in stored.items() if k not in learned}, bits), **learned}
    quantized = {k: quantized[k] for k in stored}  # the file's order
    model.load_stored(dequantize_tensors(quantized))
    predicted_names = model.predicted_tensors()
    predicted = [name in predicted_names for name in quantized]
    payload, sizes = pack_tensors(list(quantized.values()), predicted)
    chunks = model.chunks()
    index = None
    if len(chunks) > 1:
        size_of = dict(zip(quantized, sizes))
        index = [sum(size_of[name] for name in chunk) for chunk in chunks]
    return write_container(header_for(model, info), payload, index, predicted=any(predicted))


def encode_video(video: Video, output: str | os.PathLike, *, model: str = DEFAULT_MODEL,
                 params: Optional[int | str] = None, quality: Optional[int] = None, bits: Optional[int] = None,
                 target_bpp: Optional[float] = None, fit_config: Optional[FitConfig] = None,
                 model_options: Optional[dict[str, Any]] = None, colorspace: str = "rgb",
                 processes: Optional[Processes] = None) -> EncodeResult:
    """Fit a model to ``video``, compress it, and write the .nvc file atomically.

    ``quality`` (0 best .. 51, default DEFAULT_QUALITY): rate-aware fitting, loss = MSE +
    lambda(quality) * bpp, with learned quantization steps. ``bits`` instead: fit in float,
    then quantize to that many bits (the post-training path). ``target_bpp`` instead: rate
    control, lambda steered during fitting so that the file lands near that many bits per pixel
    (the size and lambda's start then come from rate_control_start). ``params``: the
    network's size (default: from the quality, see default_params). ``colorspace`` "yuv420":
    fit the video's yuv420p planes (Y at full resolution, U and V at half) under PSNR-YUV's
    weights, and decode straight to them. ``processes``: the processes the encode is spread over
    (default: those torchrun started, joined here; ``Processes()`` keeps it in this one)."""
    began = time.perf_counter()
    output = check_output(output)
    if sum(x is not None for x in (bits, quality, target_bpp)) > 1:
        raise InputError("give one of a quality, a target rate (rate-aware fitting) or bits (quantization after "
                         "fitting), not several")
    if target_bpp is not None and not 0 < target_bpp <= 24:
        raise InputError(f"target {target_bpp} bpp: give a rate above 0 and at most 24 bits per pixel")
    if bits is not None and not 2 <= bits <= 16:
        raise InputError(f"bits {bits}: choose 2 to 16")
    if bits is None and quality is None and target_bpp is None:
        quality = DEFAULT_QUALITY
    try:
        check_quality(quality)
    except ValueError as e:
        raise InputError(str(e)) from None
    cfg = fit_config or FitConfig(time_budget=120)
    if quality is not None:
        cfg = dataclasses.replace(cfg, rate_lambda=quality_to_lambda(quality))
    if colorspace not in COLORSPACES:
        raise InputError(f"colorspace {colorspace!r}: use {' or '.join(COLORSPACES)}")
    targets = video.frames  # what the network learns to render
    if colorspace == "yuv420":
        planes = video.yuv or rgb_frames_to_yuv420(video.frames, video.info.matrix, video.info.range)
        targets = yuv420_to_444(*planes)
        video = Video(video.frames, dataclasses.replace(video.info, colorspace="yuv420"), planes)
        cfg = dataclasses.replace(cfg, colorspace="yuv420")
    info = video.info
    pixels = info.frames * info.width * info.height
    cls = model_class(model)
    procs = start(cfg.device) if processes is None else processes
    in_parts = procs.size > 1 and cls.splits_over_processes  # each process fits its own groups
    cfg = dataclasses.replace(cfg, device=device_for(cfg.device, procs))
    if procs.size > 1 and not in_parts:  # every process fits the whole network on its own frames
        cfg = dataclasses.replace(cfg, data_parallel=True, quiet=cfg.quiet or not procs.main)
    start_quality = DEFAULT_QUALITY
    if target_bpp is not None:
        sized, start_quality = rate_control_start(target_bpp, pixels)
        params = (cls.size_for_rate(target_bpp, target_bpp * pixels, sized) or sized) if params is None else params
    elif params is None:
        params = cls.default_params or default_params(quality)
    if isinstance(params, str):
        if params not in cls.presets:
            raise InputError(f"--params {params!r}: not a {model} preset (presets: {', '.join(cls.presets) or 'none'})")
        params = cls.presets[params]
    options = dict(model_options or {})
    if cls.splits_over_processes:
        options["processes"] = procs.size
    if cls.follows_scene_cuts and "cuts" not in options:
        options["cuts"] = scene_cuts(targets)
    torch.manual_seed(cfg.seed)  # the initial weights, too, come from the seed
    try:
        config = cls.configure(info.width, info.height, info.frames, params, **options)
    except ValueError as e:
        raise InputError(f"{model}: {e}") from None
    net = cls(config)
    plan = net.training_plan()
    if bits is not None and len(plan) > 1:
        raise InputError(f"{model} fits its {len(plan)} groups as quantized residuals, rate-aware only: give "
                         "--quality or --target-bpp instead of --bits")
    if in_parts:  # this process's run of the plan's parts
        mine = share(sorted({s.part for s in plan}), procs)
        cfg = dataclasses.replace(cfg, stages=[i for i, s in enumerate(plan) if s.part in mine],
                                  quiet=cfg.quiet or not procs.main)
    if target_bpp is not None:  # steer the coded values to the target less the side information
        side = side_information_bytes(net, info)
        values_bpp = (target_bpp * pixels - 8 * side) / pixels
        if values_bpp <= 0:
            raise InputError(f"target {target_bpp} bpp: below what the file's side information alone takes "
                             f"({side} bytes for this model); aim higher or give fewer --params")
        cfg = dataclasses.replace(cfg, rate_lambda=quality_to_lambda(start_quality), target_bpp=values_bpp)
    result = fit(net, targets, cfg)
    # Scores are rendered on the fit's device (a GPU renders 720p frames many times faster than a
    # CPU); the file is made on the CPU, in float32, as the decoder will rebuild it.
    net.to("cpu")
    if result.rate is not None:
        result.rate.to("cpu")
    with torch.no_grad():
        net.prepare_storage(as_tensor(targets))  # LazyFrames stay lazy
    estimated = result.rate.bits(net) if result.rate is not None else None
    learned, processes = None, None
    if in_parts:  # rank 0 gathers the integers every process learned
        mine = {"rank": procs.rank, "learned": result.rate.export(net) if result.rate is not None else {},
                "bits": estimated or 0.0, "stages": result.stages, "seconds": round(result.seconds, 2)}
        everyone = gather(mine, procs)
        if not procs.main:
            return EncodeResult(os.fspath(output), model, net.num_stored_parameters(), 0, 0.0, float("nan"),
                                float("nan"), time.perf_counter() - began, result, info, quality, estimated)
        learned = {k: v for p in everyone for k, v in p["learned"].items()}
        estimated = sum(p["bits"] for p in everyone)
        processes = [{"rank": p["rank"], "groups": [st["stage"] for st in p["stages"]],
                      "steps": sum(st["steps"] for st in p["stages"]), "seconds": p["seconds"]} for p in everyone]
    else:
        if procs.size > 1:  # data-parallel: every process holds the same network; rank 0 writes it
            everyone = gather({"rank": procs.rank, "steps": sum(st["steps"] for st in result.stages),
                               "frames_fitted": sum(st["frames_fitted"] for st in result.stages),
                               "seconds": round(result.seconds, 2)}, procs)
            if not procs.main:
                return EncodeResult(os.fspath(output), model, net.num_stored_parameters(), 0, 0.0, float("nan"),
                                    float("nan"), time.perf_counter() - began, result, info, quality, estimated)
            processes = everyone
        psnr_float = psnr_of(net.to(cfg.device), video)
    data = compress(net, info, bits or 8, result.rate, learned)  # on the CPU
    write_atomic(output, data)
    written = load_bitstream(data, os.fspath(output))
    psnr = psnr_of_file(written, video)  # scored from the bytes, by the standalone decoder
    if in_parts:  # the other processes' groups are only here once quantized
        psnr_float = None
    coded, names = None, (list(learned) if learned is not None else result.rate.names if result.rate is not None else None)
    if names is not None:  # the coded values of the tensors the loss saw, as the file holds them
        coded = 8 * sum(written.coded_bytes[n] for n in names)
    return EncodeResult(os.fspath(output), model, net.num_stored_parameters(), len(data),
                        info.bpp(len(data)), psnr, psnr_float,
                        time.perf_counter() - began, result, info, quality, estimated, coded, target_bpp, processes,
                        frames_sha256(video.frames))


def encode(source: str | os.PathLike, output: str | os.PathLike, *,
           frames: Optional[tuple[int, Optional[int]]] = None, size: Optional[tuple[int, int]] = None,
           **options: Any) -> EncodeResult:
    """Read a video (a path or a bundled clip's name) and encode it; see encode_video for options."""
    check_output(output)
    video = read_video(source, frames=frames, size=size, keep_yuv=options.get("colorspace") == "yuv420")
    return encode_video(video, output, **options)
