"""The encode pipeline: read -> fit -> quantize -> entropy-code -> one .nvc file."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from .bitstream import write_container
from .decoder import render
from .entropy import pack_tensors
from .errors import InputError, OutputError
from .fit import FitConfig, FitResult, fit
from .io import Video, VideoInfo, check_writable, read_video, write_atomic
from .metrics import frame_psnr
from .models import INR, model_class
from .quant import dequantize_tensors, quantize_tensors

DEFAULT_MODEL = "nerv"


@dataclass
class EncodeResult:
    output: str
    model: str
    parameters: int
    bytes: int
    bpp: float
    psnr: float  # PSNR-RGB of the frames the decoder will produce
    psnr_float: float  # PSNR-RGB before quantization
    encode_s: float
    fit: FitResult = field(repr=False)
    info: VideoInfo = field(repr=False)


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
            "matrix": info.matrix, "range": info.range}


@torch.no_grad()
def render_all(model: INR, info: VideoInfo, batch_size: Optional[int] = None) -> np.ndarray:
    return np.concatenate(list(render(model, info, list(range(info.frames)), batch_size)))


def psnr_of(model: INR, video: Video, batch_size: Optional[int] = None) -> float:
    """PSNR-RGB of the model's frames against the video's, rendered batch by batch (no copy of the video)."""
    scores, start = [], 0
    for batch in render(model, video.info, list(range(video.info.frames)), batch_size):
        scores.append(frame_psnr(batch, video.frames[start:start + len(batch)]))
        start += len(batch)
    return float(np.mean(np.minimum(np.concatenate(scores), 100.0)))


def compress(model: INR, info: VideoInfo, bits: int = 8) -> bytes:
    """Quantize ``model`` in place (it becomes what the decoder will rebuild) and return the file's bytes."""
    model.to(device="cpu", dtype=torch.float32)
    quantized = quantize_tensors(model.stored_tensors(), bits)
    model.load_stored(dequantize_tensors(quantized))
    payload, _ = pack_tensors(list(quantized.values()))
    return write_container(header_for(model, info), payload)


def encode_video(video: Video, output: str | os.PathLike, *, model: str = DEFAULT_MODEL,
                 params: Optional[int | str] = None, bits: int = 8, fit_config: Optional[FitConfig] = None,
                 model_options: Optional[dict[str, Any]] = None) -> EncodeResult:
    """Fit a model to ``video``, compress it, and write the .nvc file atomically."""
    began = time.perf_counter()
    output = check_output(output)
    if not 2 <= bits <= 16:
        raise InputError(f"bits {bits}: choose 2 to 16")
    cfg = fit_config or FitConfig(time_budget=120)
    info = video.info
    cls = model_class(model)
    if isinstance(params, str):
        if params not in cls.presets:
            raise InputError(f"--params {params!r}: not a {model} preset (presets: {', '.join(cls.presets) or 'none'})")
        params = cls.presets[params]
    torch.manual_seed(cfg.seed)  # the initial weights, too, come from the seed
    net = cls(cls.configure(info.width, info.height, info.frames, params, **(model_options or {})))
    result = fit(net, video.frames, cfg)
    net.to("cpu")
    with torch.no_grad():
        net.prepare_storage(torch.from_numpy(video.frames))
    psnr_float = psnr_of(net, video)
    data = compress(net, info, bits)
    write_atomic(output, data)
    psnr = psnr_of(net, video)
    return EncodeResult(os.fspath(output), model, net.num_stored_parameters(), len(data),
                        info.bpp(len(data)), psnr, psnr_float,
                        time.perf_counter() - began, result, info)


def encode(source: str | os.PathLike, output: str | os.PathLike, *,
           frames: Optional[tuple[int, Optional[int]]] = None, size: Optional[tuple[int, int]] = None,
           **options: Any) -> EncodeResult:
    """Read a video (a path or a bundled clip's name) and encode it; see encode_video for options."""
    check_output(output)
    video = read_video(source, frames=frames, size=size)
    return encode_video(video, output, **options)
