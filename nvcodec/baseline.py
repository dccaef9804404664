"""H.264 / H.265 / AV1 reference points through PyAV (libx264, libx265, libsvtav1): no ffmpeg binary needed.

The encoders get the source's yuv420p planes directly, run on one thread (x264's output changes
with the thread count), and the size is that of the raw elementary stream, headers included.
"""
from __future__ import annotations

import io
import os
import time
from fractions import Fraction

import numpy as np

from .errors import InputError
from .io import Video

#: libx265 4.x aborts or segfaults the process on small frames (seen: widths 40 and 48 with
#: heights 16 to 32; 64 and up in both sides never did), so smaller clips are refused.
X265_MIN_SIDE = 64
_RAW_FORMAT = {"libx264": "h264", "libx265": "hevc", "libsvtav1": "obu"}


def _frame(y: np.ndarray, u: np.ndarray, v: np.ndarray, index: int, fps: Fraction):
    import av

    from .io import _fill_plane

    h, w = y.shape
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v)):
        _fill_plane(plane, data)
    frame.pts = index
    frame.time_base = 1 / fps
    return frame


def encode_yuv(video: Video, codec: str = "libx264", crf: int = 28, preset: str = "medium") -> tuple[bytes, float]:
    """Encode ``video.yuv`` (read it with keep_yuv=True) to a raw H.264/H.265 stream."""
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
    with av.open(buf, "w", format=_RAW_FORMAT[codec]) as container:
        stream = container.add_stream(codec, rate=info.fps)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        stream.codec_context.time_base = 1 / info.fps
        options = {"crf": str(crf), "preset": preset}
        if codec == "libx264":
            options["threads"] = "1"
        elif codec == "libx265":
            options["x265-params"] = "log-level=error:pools=1:frame-threads=1"
        else:  # libsvtav1: preset is a number, 0 (slowest) to 13; SVT_LOG=1: errors only on stderr
            os.environ.setdefault("SVT_LOG", "1")
            options["svtav1-params"] = "lp=1"
        stream.options = options
        y, u, v = video.yuv
        for i in range(info.frames):
            for packet in stream.encode(_frame(y[i], u[i], v[i], i, info.fps)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue(), time.perf_counter() - began


def decode_yuv(data: bytes, codec: str) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    import av

    from .io import _planes

    began = time.perf_counter()
    planes = []
    with av.open(io.BytesIO(data), format=_RAW_FORMAT[codec]) as container:
        for frame in container.decode(video=0):
            planes.append(_planes(frame))
    return tuple(np.stack([p[i] for p in planes]) for i in range(3)), time.perf_counter() - began
