"""H.264 / H.265 / AV1 reference points through PyAV (libx264, libx265, libsvtav1): no ffmpeg binary needed.

The encoders get the source's yuv420p planes directly and run on one thread (x264's output changes
with the thread count). A point is charged for the stream a decoder needs: the raw elementary
stream with the encoders' informational SEI taken out (x264 and x265 write their version and every
option as a user-data-unregistered SEI message: 675 B of x264's 5,551 B on carphone at CRF 43).
"""
from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Optional

import numpy as np

from ..errors import InputError
from ..io import Video
from ..resources import glibc

#: libx265 4.x aborts or segfaults the process on small frames (seen: widths 40 and 48 with
#: heights 16 to 32; 64 and up in both sides never did), so smaller clips are refused.
X265_MIN_SIDE = 64
RAW_FORMAT = {"libx264": "h264", "libx265": "hevc", "libsvtav1": "obu"}
STREAM_SUFFIX = {"libx264": ".264", "libx265": ".265", "libsvtav1": ".obu"}
_USER_DATA_UNREGISTERED = 5  # SEI payload type, the same number in H.264 and H.265


@dataclass(frozen=True)
class Encoded:
    """One baseline encode: ``data`` is the counted stream (informational SEI dropped)."""

    data: bytes
    sei_bytes_dropped: int
    seconds: float


# ---------------------------------------------------------------------------- Annex B streams
def nal_units(data: bytes) -> list[bytes]:
    """Split an Annex B stream into NAL units, each with its start code (zero bytes before a
    ``00 00 01`` belong to that start code), so that ``b"".join(nal_units(d)) == d``."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        s = i
        while s > (starts[-1] + 3 if starts else 0) and data[s - 1] == 0:
            s -= 1
        starts.append(s)
        i = data.find(b"\x00\x00\x01", i + 3)
    if not starts:
        return [data] if data else []
    bounds = ([0] if starts[0] > 0 else []) + starts + [len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def _rbsp(payload: bytes) -> bytes:
    """A NAL payload without its emulation-prevention bytes (00 00 03 -> 00 00)."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


def sei_payload_types(rbsp: bytes) -> Optional[list[int]]:
    """The payload types of the SEI messages in an SEI RBSP, or None if it does not parse."""
    types, pos = [], 0
    while pos < len(rbsp) and rbsp[pos:] != b"\x80":  # what is left is rbsp_trailing_bits
        values = []
        for _ in range(2):  # payloadType, then payloadSize: runs of 0xFF plus a last byte
            value = 0
            while pos < len(rbsp) and rbsp[pos] == 0xFF:
                value, pos = value + 255, pos + 1
            if pos >= len(rbsp):
                return None
            values.append(value + rbsp[pos])
            pos += 1
        types.append(values[0])
        pos += values[1]
    return types if pos <= len(rbsp) else None


def is_informational_sei(nal: bytes, codec: str) -> bool:
    """True for an SEI NAL unit whose every message is user data unregistered (where x264 and
    x265 write their version and options); a decoder never needs those."""
    body = nal[nal.index(b"\x00\x00\x01") + 3:]
    if codec == "libx264" and body and body[0] & 0x1F == 6:
        rbsp = _rbsp(body[1:])
    elif codec == "libx265" and len(body) >= 2 and (body[0] >> 1) & 0x3F in (39, 40):
        rbsp = _rbsp(body[2:])
    else:
        return False
    types = sei_payload_types(rbsp)
    return bool(types) and all(t == _USER_DATA_UNREGISTERED for t in types)


def drop_informational_sei(data: bytes, codec: str) -> tuple[bytes, int]:
    """The stream without informational SEI NAL units, and how many bytes were dropped."""
    if codec not in ("libx264", "libx265"):
        return data, 0
    kept = [n for n in nal_units(data) if not is_informational_sei(n, codec)]
    out = b"".join(kept)
    return out, len(data) - len(out)


def drop_sei_with_ffmpeg(data: bytes) -> bytes:
    """An H.264 stream without any SEI NAL unit, by FFmpeg's own ``filter_units`` bitstream filter:
    a route independent of our parser, to check drop_informational_sei against."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(data), format="h264") as src, av.open(out, "w", format="h264") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        bsf = av.BitStreamFilterContext("filter_units=remove_types=6", src.streams.video[0])
        for packet in src.demux(video=0):
            for p in bsf.filter(packet if packet.size else None):
                p.stream = stream
                dst.mux(p)
    return out.getvalue()


# ---------------------------------------------------------------------------- x264's uninitialised reads
@contextlib.contextmanager
def _fixed_fresh_memory(byte: int = 0x55) -> Iterator[None]:
    """Fill fresh heap memory with one fixed byte while the encoder runs (glibc's M_PERTURB).

    At heights that are not a multiple of 16, libx264's AVX-512 code reads heap memory nobody
    wrote (bench/studies/2026-11-26-x264-determinism/x264_determinism.py: the size follows MALLOC_PERTURB_'s byte with AVX-512, and
    does not with x264's assembly limited to AVX2 or turned off), so a CRF point's size varied
    by up to ~0.3 % between runs. With fresh memory always the same byte the encode is
    reproducible; elsewhere than glibc nothing is changed."""
    libc = glibc()
    m_perturb = -6
    if libc is not None:
        libc.mallopt(m_perturb, byte)
    try:
        yield
    finally:
        if libc is not None:
            libc.mallopt(m_perturb, 0)


# ---------------------------------------------------------------------------- encode / decode
def _frame(y: np.ndarray, u: np.ndarray, v: np.ndarray, index: int, fps: Fraction):
    import av

    from ..io import _fill_plane

    h, w = y.shape
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v)):
        _fill_plane(plane, data)
    frame.pts = index
    frame.time_base = 1 / fps
    return frame


def encoder_options(codec: str, crf: int, preset: str, tune: Optional[str] = None) -> dict[str, str]:
    """PyAV options of one baseline encode: one thread; x265 and SVT-AV1 log errors only."""
    options = {"crf": str(crf), "preset": preset}
    if tune:
        options["tune"] = tune
    if codec == "libx264":
        options["threads"] = "1"
    elif codec == "libx265":
        options["x265-params"] = "log-level=error:pools=1:frame-threads=1"
    else:  # libsvtav1: preset is a number, 0 (slowest) to 13; SVT_LOG=1: errors only on stderr
        os.environ.setdefault("SVT_LOG", "1")
        options["svtav1-params"] = "lp=1"
    return options


def encode_raw(video: Video, codec: str, options: dict[str, str]) -> tuple[bytes, float]:
    """``video.yuv`` (read it with keep_yuv=True) through ``codec`` with PyAV ``options``: the raw
    elementary stream exactly as the encoder wrote it, and the wall seconds."""
    import av

    av.logging.set_level(av.logging.ERROR)
    if video.yuv is None:
        raise ValueError("baseline encoding needs the yuv420p planes: read_video(..., keep_yuv=True)")
    info = video.info
    if codec == "libx265" and min(info.width, info.height) < X265_MIN_SIDE:
        raise InputError(f"x265 baseline: {info.width}x{info.height} is too small (libx265 corrupts memory at sizes "
                         f"such as 40x24 and 48x32); use clips of at least {X265_MIN_SIDE}x{X265_MIN_SIDE} or leave x265 out")
    buf = io.BytesIO()
    began = time.perf_counter()
    with _fixed_fresh_memory(), av.open(buf, "w", format=RAW_FORMAT[codec]) as container:
        stream = container.add_stream(codec, rate=info.fps)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        stream.codec_context.time_base = 1 / info.fps
        stream.options = options
        y, u, v = video.yuv
        for i in range(info.frames):
            for packet in stream.encode(_frame(y[i], u[i], v[i], i, info.fps)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue(), time.perf_counter() - began


def encode_yuv(video: Video, codec: str = "libx264", crf: int = 28, preset: str = "medium",
               tune: Optional[str] = None) -> Encoded:
    """One baseline point's stream: what a decoder needs, without the informational SEI."""
    data, seconds = encode_raw(video, codec, encoder_options(codec, crf, preset, tune))
    counted, dropped = drop_informational_sei(data, codec)
    return Encoded(counted, dropped, seconds)


def decode_yuv(data: bytes, codec: str) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    import av

    from ..io import _planes

    began = time.perf_counter()
    planes = []
    with av.open(io.BytesIO(data), format=RAW_FORMAT[codec]) as container:
        for frame in container.decode(video=0):
            planes.append(_planes(frame))
    return tuple(np.stack([p[i] for p in planes]) for i in range(3)), time.perf_counter() - began
