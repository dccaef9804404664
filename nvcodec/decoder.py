"""The standalone decoder: .nvc file -> model -> frames. It needs the bitstream and the model
definitions only; nothing here imports the fitting code, and nothing is unpickled."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from .bitstream import LIMITS, Container, fps_of, read_container
from .entropy import unpack_tensors
from .errors import BitstreamError, InputError
from .io import VideoInfo, VideoWriter
from .models import INR, REGISTRY
from .quant import dequantize_tensors


@dataclass
class Bitstream:
    """A parsed .nvc file: its header, the model rebuilt from it, and what each part cost."""

    path: str
    container: Container
    model: INR
    info: VideoInfo
    tensor_bytes: dict[str, int]
    coded_bytes: dict[str, int]  # of tensor_bytes, the coded values themselves (the rest is side information)
    tensor_methods: dict[str, str]
    bits: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return self.container.total_bytes

    @property
    def bpp(self) -> float:
        return self.info.bpp(self.total_bytes)


def read_bitstream_bytes(path: str | os.PathLike) -> bytes:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a .nvc file")
    size = path.stat().st_size
    if size > LIMITS["section_bytes"] + LIMITS["header_bytes"] + 64:
        raise BitstreamError(f"{path}: {size} bytes is larger than any valid bitstream")
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None


def load_bitstream(source: str | os.PathLike | bytes, name: Optional[str] = None) -> Bitstream:
    """Parse and validate a .nvc file (a path or its bytes) and rebuild its model, in float32."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or "bitstream"
    else:
        data, name = read_bitstream_bytes(source), name or os.fspath(source)
    container = read_container(data, name)
    header = container.header
    cls = REGISTRY.get(header["model"])
    if cls is None:
        raise BitstreamError(f"{name}: unknown model {header['model']!r} (this decoder knows {', '.join(REGISTRY)})")
    config = header["config"]
    try:
        cls.check_config(config)
        with torch.device("meta"):
            shapes = {k: tuple(t.shape) for k, t in cls(config, decoder_only=True).stored_tensors().items()}
    except (ValueError, TypeError, KeyError, RuntimeError) as e:
        raise BitstreamError(f"{name}: invalid {header['model']} config ({e})") from None
    if len(shapes) > LIMITS["tensors"]:
        raise BitstreamError(f"{name}: model has {len(shapes)} tensors (limit {LIMITS['tensors']})")
    params = sum(int(np.prod(s, dtype=np.int64)) for s in shapes.values())
    if params > LIMITS["parameters"]:
        raise BitstreamError(f"{name}: model has {params} parameters (limit {LIMITS['parameters']})")
    if config.get("frames") != header["frames"]:
        raise BitstreamError(f"{name}: model config is for {config.get('frames')} frames, header says {header['frames']}")
    out_h, out_w = config["out_size"]
    if out_h < header["height"] or out_w < header["width"]:
        raise BitstreamError(f"{name}: model renders {out_w}x{out_h}, smaller than the video's "
                             f"{header['width']}x{header['height']}")
    details: list[tuple[int, str]] = []
    quantized, sizes = unpack_tensors(container.sections[b"TENS"], list(shapes.values()), name, details)
    model = cls(config, decoder_only=True)
    model.load_stored(dequantize_tensors(dict(zip(shapes, quantized))))
    model.eval()
    info = VideoInfo(header["width"], header["height"], header["frames"], fps_of(header),
                     header["matrix"], header["range"])
    return Bitstream(name, container, model, info, dict(zip(shapes, sizes)),
                     {k: coded for k, (coded, _) in zip(shapes, details)},
                     {k: method for k, (_, method) in zip(shapes, details)},
                     {k: q.bits for k, q in zip(shapes, quantized)})


def auto_batch_size(info: VideoInfo, pixels: int = 1 << 20) -> int:
    """Frames per rendering batch: up to 8, about a million pixels a batch at most, which keeps
    the decoder's activations (tens of channels a pixel, float32) to a few hundred MB at 720p."""
    return max(1, min(8, pixels // (info.width * info.height)))


@torch.no_grad()
def render(model: INR, info: VideoInfo, indices: list[int], batch_size: Optional[int] = None) -> Iterator[np.ndarray]:
    """Render frames ``indices`` in batches: uint8 RGB arrays (B, H, W, 3) at the video's size."""
    model.eval()
    batch_size = batch_size or auto_batch_size(info)
    for i in range(0, len(indices), batch_size):
        index = torch.tensor(indices[i:i + batch_size], dtype=torch.int64)
        out = model(index)[..., :info.height, :info.width]
        yield to_uint8(out)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) floats in [0, 1] -> (B, H, W, 3) uint8, rounding to nearest."""
    return frames.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def frame_indices(info: VideoInfo, frames: Optional[tuple[int, Optional[int]]], name: str) -> list[int]:
    start, stop = frames if frames is not None else (0, None)
    stop = info.frames if stop is None else stop
    if not 0 <= start < stop <= info.frames:
        raise InputError(f"{name}: frames {start}:{stop} are outside the video's 0:{info.frames}")
    return list(range(start, stop))


@dataclass
class DecodeResult:
    output: str
    frames: int
    seconds: float
    fps: float


def decode(source: str | os.PathLike, output: str | os.PathLike, *,
           frames: Optional[tuple[int, Optional[int]]] = None, batch_size: Optional[int] = None,
           lossless: bool = False, quiet: bool = True) -> DecodeResult:
    """Decode a .nvc file to a video file (.mp4/.mkv/.y4m) or a folder of PNGs, atomically.

    ``frames`` = (start, stop) renders only those frames.
    """
    from tqdm.auto import tqdm

    began = time.perf_counter()
    stream = load_bitstream(source)
    indices = frame_indices(stream.info, frames, stream.path)
    info = stream.info
    with VideoWriter(output, VideoInfo(info.width, info.height, len(indices), info.fps, info.matrix, info.range),
                     lossless=lossless) as writer, \
            tqdm(total=len(indices), disable=quiet, unit="frame", desc="decode") as bar:
        for batch in render(stream.model, info, indices, batch_size):
            writer.write(batch)
            bar.update(len(batch))
    seconds = time.perf_counter() - began
    return DecodeResult(os.fspath(output), len(indices), seconds, len(indices) / seconds)


def decode_frames(source: str | os.PathLike | bytes, frames: Optional[tuple[int, Optional[int]]] = None,
                  batch_size: Optional[int] = None) -> np.ndarray:
    """Decode to a uint8 array (T, H, W, 3) in memory."""
    stream = load_bitstream(source)
    indices = frame_indices(stream.info, frames, stream.path)
    return np.concatenate(list(render(stream.model, stream.info, indices, batch_size)))
