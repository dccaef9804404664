"""The standalone decoder: .nvc file -> model -> frames. It needs the bitstream and the model
definitions only; nothing here imports the fitting code, and nothing is unpickled."""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from .container import LIMITS, VERSION_INDEXED, Container, fps_of, read_container
from .entropy import iter_tensors, laplace_ideal_bits
from ..errors import BitstreamError, InputError, NvcodecError
from ..io import VideoInfo, VideoWriter, yuv420_to_rgb
from ..models import INR, REGISTRY
from .quant import dequantize_tensor
from ..resources import default_memory_limit, format_bytes


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
    plan: "DecodePlan"
    memory_limit: int
    #: bits of each tensor's integers under the Laplace fitted to them (entropy.laplace_ideal_bits):
    #: the estimate rate-aware fitting optimises, to compare with coded_bytes
    estimated_bits: dict[str, float]

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


def load_bitstream(source: str | os.PathLike | bytes, name: Optional[str] = None,
                   max_memory: Optional[int] = None, frames: Optional[tuple[int, Optional[int]]] = None) -> Bitstream:
    """Parse and validate a .nvc file (a path or its bytes) and rebuild its model, in float32.

    ``frames`` (start, stop): only what rendering those frames needs is decoded (in a file with an index of
    chunks, as NIRVANA's groups; the others are left at zero and must not be rendered).

    What decoding will need (the model, and rendering one frame) is computed from the header
    and checked against ``max_memory`` (default: a share of the memory available) before
    anything is allocated. Any fault of the file is a BitstreamError naming it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or "bitstream"
    else:
        data, name = read_bitstream_bytes(source), name or os.fspath(source)
    limit = default_memory_limit() if max_memory is None else max_memory
    try:
        return _load(data, name, limit, frames)
    except NvcodecError:
        raise
    except MemoryError:
        raise BitstreamError(f"{name}: ran out of memory while decoding; the file's sizes passed "
                             f"the checks against {format_bytes(limit)}, so lower --max-memory") from None
    except Exception as e:  # noqa: BLE001 - a fault of ours the checks missed: still one line
        raise BitstreamError(f"{name}: unexpected fault while parsing ({type(e).__name__}: {e}); "
                             "please report it") from None


@dataclass
class DecodePlan:
    """What decoding a file costs in memory, from its header alone (bytes)."""

    parameters: int
    model_bytes: int  # while loading: the model, its dequantized tensors, the largest one in integers
    frame_bytes: int  # rendering one frame: activations (widest layers) and the frame itself

    @property
    def peak_bytes(self) -> int:
        return max(self.model_bytes, 4 * self.parameters + self.frame_bytes)


def _load(data: bytes, name: str, limit: int, frames: Optional[tuple[int, Optional[int]]] = None) -> Bitstream:
    container = read_container(data, name)
    header = container.header
    cls = REGISTRY.get(header["model"])
    if cls is None:
        raise BitstreamError(f"{name}: unknown model {header['model']!r} (this decoder knows {', '.join(REGISTRY)})")
    config = header["config"]
    try:
        cls.check_config(config)
        with torch.device("meta"):
            skeleton = cls(config, decoder_only=True)
        shapes = {k: tuple(t.shape) for k, t in skeleton.stored_tensors().items()}
    except (ValueError, TypeError, KeyError, RuntimeError) as e:
        raise BitstreamError(f"{name}: invalid {header['model']} config ({e})") from None
    if len(shapes) > LIMITS["tensors"]:
        raise BitstreamError(f"{name}: model has {len(shapes)} tensors (limit {LIMITS['tensors']})")
    sizes = [math.prod(s) for s in shapes.values()]
    if sum(sizes) > LIMITS["parameters"]:
        raise BitstreamError(f"{name}: model has {sum(sizes)} parameters (limit {LIMITS['parameters']})")
    if config.get("frames") != header["frames"]:
        raise BitstreamError(f"{name}: model config is for {config.get('frames')} frames, header says {header['frames']}")
    check_render_size(cls, config, header, name)
    plan = DecodePlan(sum(sizes), 8 * sum(sizes) + 8 * max(sizes, default=0), 0)
    check_memory(plan, limit, name)  # the model's memory, before the tensors are decoded
    chunks = skeleton.chunks()
    if container.chunks is None and len(chunks) > 1:
        raise BitstreamError(f"{name}: a {header['model']} file must have an index of its {len(chunks)} groups "
                             f"(format version {VERSION_INDEXED}); it has none")
    if container.chunks is not None and len(container.chunks) != len(chunks):
        raise BitstreamError(f"{name}: section INDX (the group offset table) lists {len(container.chunks)} "
                             f"chunks, the model has {len(chunks)}")
    if [n for chunk in chunks for n in chunk] != list(shapes):
        raise BitstreamError(f"{name}: the {header['model']} model's chunks are not its tensors in order")
    wanted = range(len(chunks))
    if frames is not None:  # a range outside the video is refused later, with the video's length
        start, stop = frames
        wanted = skeleton.chunks_for_frames(list(range(max(start, 0), min(header["frames"] if stop is None else stop,
                                                                               header["frames"]))))
    details: dict[str, tuple[int, int, str, int, float]] = {}
    stored = {}
    tens, spans = container.sections[b"TENS"], container.chunk_spans()
    for c in wanted:
        start, end = spans[c]
        what = name if container.chunks is None else f"{name}: chunk {c} of section TENS"
        # iterated to its end (not zipped with the names), so that its check for bytes left over runs
        for i, record in enumerate(iter_tensors(tens[start:end], [shapes[k] for k in chunks[c]], what, container.predictors)):
            key = chunks[c][i]
            stored[key] = dequantize_tensor(record.tensor)  # one tensor at a time in integers
            details[key] = (record.size, record.coded, record.method, record.tensor.bits,
                            laplace_ideal_bits(record.coded_integers()))
    for key, shape in shapes.items():  # what the frames asked for do not need
        stored.setdefault(key, torch.zeros(shape))
    plan.frame_bytes = frame_bytes(skeleton)
    check_memory(plan, limit, name)  # rendering's memory, before the model is built
    with torch.device("meta"):
        model = cls(config, decoder_only=True)
    materialise(model)  # no initialisation: every stored tensor is loaded next
    model.load_stored(stored)
    del stored
    model.eval()
    info = VideoInfo(header["width"], header["height"], header["frames"], fps_of(header),
                     header["matrix"], header["range"], header.get("colorspace", "rgb"))
    return Bitstream(name, container, model, info, {k: d[0] for k, d in details.items()},
                     {k: d[1] for k, d in details.items()}, {k: d[2] for k, d in details.items()},
                     {k: d[3] for k, d in details.items()}, plan, limit,
                     {k: d[4] for k, d in details.items()})


def materialise(model: torch.nn.Module) -> None:
    """Give a model built on the meta device uninitialised CPU tensors, as Module.to_empty does,
    without to_empty's meta-device operations, which load torch's compiler (1-2 s a decode)."""
    for module in model.modules():
        for name, p in module._parameters.items():
            if p is not None:
                module._parameters[name] = torch.nn.Parameter(torch.empty(p.shape, dtype=p.dtype), p.requires_grad)
        for name, b in module._buffers.items():
            if b is not None:
                module._buffers[name] = torch.empty(b.shape, dtype=b.dtype)


def check_memory(plan: DecodePlan, limit: int, name: str) -> None:
    if plan.peak_bytes > limit:
        raise BitstreamError(
            f"{name}: decoding needs {format_bytes(plan.peak_bytes)} (a model of {plan.parameters} parameters, "
            f"{format_bytes(plan.frame_bytes)} to render a frame), above the memory limit of "
            f"{format_bytes(limit)}; give --max-memory if this machine has more")


def check_render_size(cls: type[INR], config: dict, header: dict, name: str) -> None:
    """The model renders the video's size padded up to its stride product, no more: a 1x1 video
    whose model renders 65536x65536 is a lie, refused before anything is built."""
    step = cls.render_stride(config)
    out_h, out_w = config["out_size"]
    for what, out, true in (("height", out_h, header["height"]), ("width", out_w, header["width"])):
        if not true <= out < true + step:
            raise BitstreamError(f"{name}: model renders {out_w}x{out_h} for a {header['width']}x{header['height']} "
                                 f"video: its {what} must be the video's padded by less than one stride "
                                 f"product ({step})")


#: Memory alive while the widest layer runs, in multiples of its input + output elements (inputs
#: kept for skips and residuals, GELU's output beside its input, the convolution's workspace).
#: Measured at 1920x1080, 1M parameters: rendering a frame raised the peak RSS by 434 / 708 /
#: 762 MiB (nerv / nervpp / hnerv); this factor estimates 552 / 1058 / 1552 MiB.
ACTIVATION_FACTOR = 4


def frame_bytes(skeleton: INR) -> int:
    """Memory to render one frame, from the config alone (INR.frame_elements): the widest layer's
    input + output elements, and the frame itself."""
    widest, frame = skeleton.frame_elements()
    return 4 * ACTIVATION_FACTOR * widest + 8 * frame


def auto_batch_size(info: VideoInfo, pixels: int = 1 << 20) -> int:
    """Frames handed to the writer at once: up to 8, about a million pixels at most."""
    return max(1, min(8, pixels // (info.width * info.height)))


@torch.no_grad()
def render(model: INR, info: VideoInfo, indices: list[int], batch_size: Optional[int] = None) -> Iterator[np.ndarray]:
    """Render frames ``indices``: uint8 RGB arrays (B, H, W, 3) at the video's size, ``batch_size``
    frames at a time. Each frame is its own forward call, so its bytes never depend on which
    frames share its batch (convolutions and matrix products round differently per batch size).
    A yuv420 file's planes are converted to RGB with its colour tags."""
    if info.colorspace == "yuv420":
        for y, u, v in render_yuv420(model, info, indices, batch_size):
            yield np.stack([yuv420_to_rgb(y[i], u[i], v[i], info.matrix, info.range) for i in range(len(y))])
        return
    for batch in _forward(model, info, indices, batch_size):
        frames = []
        for out in batch:
            frames.append(to_uint8(out))
            del out  # freed before the next frame is rendered
        yield np.concatenate(frames)


@torch.no_grad()
def render_yuv420(model: INR, info: VideoInfo, indices: list[int],
                  batch_size: Optional[int] = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The yuv420p planes (Y (B, H, W), U and V (B, ceil(H/2), ceil(W/2))) of a model that renders
    yuv420: channel 0 is Y; channels 1, 2 averaged over each 2x2 block (fewer at odd edges) are
    U and V. The same average the fit's loss takes, so the planes are what the fit aimed at."""
    if info.colorspace != "yuv420":
        raise ValueError("render_yuv420: this model renders RGB")
    for batch in _forward(model, info, indices, batch_size):
        y, u, v = [], [], []
        for out in batch:
            y.append(to_uint8(out[:, :1])[..., 0])
            chroma = to_uint8(chroma_average(out[:, 1:]))
            u.append(chroma[..., 0])
            v.append(chroma[..., 1])
            del out  # freed before the next frame is rendered
        yield np.concatenate(y), np.concatenate(u), np.concatenate(v)


def chroma_average(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2)): the mean of each 2x2 block (of the samples
    inside the frame, at odd edges)."""
    return torch.nn.functional.avg_pool2d(x, 2, ceil_mode=True)


def _forward(model: INR, info: VideoInfo, indices: list[int], batch_size: Optional[int]) -> Iterator[Iterator[torch.Tensor]]:
    """Batches of ``batch_size`` frames, each a generator of one frame's float output at a time, so
    that the caller converts a frame (to uint8) before the next is rendered: the memory the decoder
    checked is for one float frame, not a batch of them."""
    model.eval()
    batch_size = batch_size or auto_batch_size(info)
    device = next(model.parameters()).device  # the decoder's is the CPU; the encoder's scores may use a GPU
    for i in range(0, len(indices), batch_size):
        yield (model(torch.tensor([index], dtype=torch.int64, device=device))[..., :info.height, :info.width]
               for index in indices[i:i + batch_size])


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) floats in [0, 1] -> (B, H, W, 3) uint8, rounding to nearest. A NaN (weights
    that overflow float32) becomes 0 rather than whatever the CPU's float-to-int conversion gives."""
    return frames.nan_to_num(0.0).clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().contiguous().numpy()


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
    #: a raw .yuv output: its format, as FFmpeg's options spell it (nothing in the file says it)
    format: Optional[str] = None


def decode(source: str | os.PathLike, output: str | os.PathLike, *,
           frames: Optional[tuple[int, Optional[int]]] = None, batch_size: Optional[int] = None,
           lossless: bool = False, quiet: bool = True, max_memory: Optional[int] = None,
           pix_fmt: Optional[str] = None) -> DecodeResult:
    """Decode a .nvc file to a video file (.mp4/.mkv/.y4m), a raw .yuv file or a folder of PNGs,
    atomically, streaming (memory does not grow with the frames).

    ``frames`` = (start, stop) renders only those frames; ``batch_size`` frames go to the writer
    at once (the bytes of a frame do not depend on it); ``max_memory`` (bytes) overrides the
    memory limit the file's needs are checked against; ``pix_fmt``: a .yuv output's pixel
    format (rawyuv.PIX_FMTS; default yuv420p).
    """
    from tqdm.auto import tqdm

    began = time.perf_counter()
    stream = load_bitstream(source, max_memory=max_memory, frames=frames)
    indices = frame_indices(stream.info, frames, stream.path)
    planes = stream.info.colorspace == "yuv420"  # written as they are, not through RGB
    with VideoWriter(output, dataclasses.replace(stream.info, frames=len(indices)), lossless=lossless,
                     pix_fmt=pix_fmt) as writer, \
            tqdm(total=len(indices), disable=quiet, unit="frame", desc="decode") as bar:
        for batch in _rendered(stream, indices, batch_size, planes):
            writer.write_yuv420(*batch) if planes else writer.write(batch)
            bar.update(len(batch[0] if planes else batch))
    seconds = time.perf_counter() - began
    described = None
    if writer.kind == "yuv":
        from ..rawyuv import describe_output

        described = describe_output(stream.info.width, stream.info.height, stream.info.fps, writer.pix_fmt)
    return DecodeResult(os.fspath(output), len(indices), seconds, len(indices) / seconds, described)


def decode_frames(source: str | os.PathLike | bytes, frames: Optional[tuple[int, Optional[int]]] = None,
                  batch_size: Optional[int] = None, max_memory: Optional[int] = None) -> np.ndarray:
    """Decode to a uint8 array (T, H, W, 3) in memory."""
    stream, indices = _load_in_memory(source, frames, max_memory)
    return np.concatenate(list(_rendered(stream, indices, batch_size)))


def decode_yuv420(source: str | os.PathLike | bytes, frames: Optional[tuple[int, Optional[int]]] = None,
                  batch_size: Optional[int] = None, max_memory: Optional[int] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a yuv420 file to its planes in memory: Y (T, H, W), U and V (T, ceil(H/2), ceil(W/2))."""
    stream, indices = _load_in_memory(source, frames, max_memory)
    batches = list(_rendered(stream, indices, batch_size, planes=True))
    return tuple(np.concatenate(p) for p in zip(*batches))


def _load_in_memory(source, frames, max_memory) -> tuple[Bitstream, list[int]]:
    """A loaded file and the frames asked for, checked to fit in memory as uint8 RGB (twice)."""
    stream = load_bitstream(source, max_memory=max_memory, frames=frames)
    indices = frame_indices(stream.info, frames, stream.path)
    need = len(indices) * stream.info.width * stream.info.height * 3
    if stream.plan.peak_bytes + 2 * need > stream.memory_limit:
        raise BitstreamError(f"{stream.path}: {len(indices)} frames of {stream.info.width}x{stream.info.height} "
                             f"need {format_bytes(2 * need)} in memory, above the limit; decode to a file or fewer frames")
    return stream, indices


def _rendered(stream: Bitstream, indices: list[int], batch_size: Optional[int], planes: bool = False) -> Iterator:
    """render() for a loaded file: batches sized to the memory its checks left, and an allocator
    failure reported in one line (the checks leave room, so it means the limit was too high)."""
    if batch_size is None:
        frame = stream.info.width * stream.info.height * 3
        batch_size = max(1, min(8, (stream.memory_limit - stream.plan.peak_bytes) // frame))
    try:
        yield from (render_yuv420 if planes else render)(stream.model, stream.info, indices, batch_size)
    except MemoryError:
        raise BitstreamError(f"{stream.path}: ran out of memory while rendering; lower --max-memory "
                             f"(now {format_bytes(stream.memory_limit)})") from None
    except RuntimeError as e:
        if "allocate" not in str(e):
            raise
        raise BitstreamError(f"{stream.path}: ran out of memory while rendering; lower --max-memory "
                             f"(now {format_bytes(stream.memory_limit)})") from None
