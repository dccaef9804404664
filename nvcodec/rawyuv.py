"""Raw planar YUV files (.yuv): their format from the name or from options, reading their frames,
writing them.

A raw file is planes and nothing else: Y, then U, then V, frame after frame, with no header. Its
format comes from the name where it follows the UVG / JVET convention, e.g.
``Beauty_1920x1080_120fps_420_8bit_YUV.yuv`` or ``BasketballDrive_1920x1080_50.yuv`` (a bare number
right after the size is the frame rate), or from options (``--input-size``, ``--input-fps``,
``--pix-fmt``), which win over the name -- except that an option's bit depth may not contradict
the name's (a 10-bit file read as 8-bit divides into twice as many frames of noise, silently).
Where neither says: 4:2:0, 8 bits, 25 fps (FFmpeg's rawvideo defaults), BT.709 at 720 lines and
more, BT.601 below, limited ("tv") range.

Chroma planes are ceil(W/2) x ceil(H/2) (4:2:0) or ceil(W/2) x H (4:2:2), as FFmpeg lays them
out, so odd sizes read and write at their true size. Samples above 8 bits are 16-bit little-endian
words. Frames are read by offset (``readinto``), not memory-mapped: the pages of a mapping count in
the process's resident memory once touched, so an epoch over a memory-mapped 1.9 GB file would
hold 1.9 GB (bench/encode_memory.py --raw measures both, and PyAV's rawvideo demuxer).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import InputError, OutputError

SUFFIXES = (".yuv",)
#: pixel format -> (chroma subsampling across, down; bits a sample)
PIX_FMTS = {
    "yuv420p": (2, 2, 8), "yuv420p10le": (2, 2, 10), "yuv420p12le": (2, 2, 12),
    "yuv422p": (2, 1, 8), "yuv422p10le": (2, 1, 10), "yuv422p12le": (2, 1, 12),
    "yuv444p": (1, 1, 8), "yuv444p10le": (1, 1, 10), "yuv444p12le": (1, 1, 12),
}
_CHROMA = {"420": (2, 2), "422": (2, 1), "444": (1, 1)}
DEFAULT_FPS = Fraction(25)
#: rates written with decimals in names and options that mean NTSC's x/1.001
_NTSC = {"23.976": Fraction(24000, 1001), "23.98": Fraction(24000, 1001), "29.97": Fraction(30000, 1001),
         "47.952": Fraction(48000, 1001), "59.94": Fraction(60000, 1001), "119.88": Fraction(120000, 1001)}


def is_raw(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a raw YUV file (by its suffix: .yuv)."""
    return Path(path).suffix.lower() in SUFFIXES


def pix_fmt_for(chroma: str, bits: int) -> str:
    """('420', 10) -> 'yuv420p10le'."""
    return f"yuv{chroma}p" + ("" if bits == 8 else f"{bits}le")


def parse_fps(text: str, what: str = "--input-fps") -> Fraction:
    """'30', '29.97' (30000/1001), '30000/1001', '50fps' -> a positive Fraction."""
    t = text.strip().lower().removesuffix("fps").removesuffix("hz").strip()
    if t in _NTSC:
        return _NTSC[t]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:/(\d+))?", t)
    if not m or (m.group(2) and "." in m.group(1)):
        raise InputError(f"{what} {text!r}: expected frames a second, e.g. 30, 29.97 or 30000/1001")
    fps = Fraction(m.group(1)) / (int(m.group(2)) if m.group(2) else 1)
    if not 0 < fps <= 1000:
        raise InputError(f"{what} {text!r}: a frame rate above 0 and at most 1000 frames a second")
    return fps


@dataclass(frozen=True)
class RawOptions:
    """What the command line says about a raw file; None: from the name, else the default."""

    size: Optional[tuple[int, int]] = None
    fps: Optional[Fraction] = None
    pix_fmt: Optional[str] = None
    matrix: Optional[str] = None
    range: Optional[str] = None

    def given(self) -> list[str]:
        """The options given, as the command line spells them."""
        names = {"size": "--input-size", "fps": "--input-fps", "pix_fmt": "--pix-fmt", "matrix": "--input-matrix",
                 "range": "--input-range"}
        return [flag for key, flag in names.items() if getattr(self, key) is not None]


@dataclass(frozen=True)
class NameFormat:
    """What a file's name says: each field None where it says nothing."""

    size: Optional[tuple[int, int]] = None
    fps: Optional[Fraction] = None
    chroma: Optional[str] = None  # '420', '422', '444'
    bits: Optional[int] = None


def parse_name(path: str | os.PathLike) -> NameFormat:
    """The format a UVG / JVET-style name gives: tokens between ``_`` or ``-`` such as
    ``1920x1080``, ``120fps`` (or a bare number right after the size: JVET's ``_1920x1080_50``),
    ``420`` / ``422`` / ``444`` (or ``yuv420p``), ``8bit`` / ``10bit``. A name that gives two
    different values for one of them is refused."""
    stem = Path(path).name
    if is_raw(stem):
        stem = stem[: -len(Path(stem).suffix)]
    tokens = [t for t in re.split(r"[_\-\s]+", stem.lower()) if t]
    found: dict[str, list] = {"size": [], "fps": [], "chroma": [], "bits": []}
    after_size = None
    for i, token in enumerate(tokens):
        if m := re.fullmatch(r"(\d+)x(\d+)", token):
            found["size"].append((int(m.group(1)), int(m.group(2))))
            after_size = i + 1
        elif m := re.fullmatch(r"(\d+(?:\.\d+)?)(?:fps|hz)", token):
            found["fps"].append(parse_fps(m.group(1), f"{path}: frame rate"))
        elif m := re.fullmatch(r"(?:yuv)?(420|422|444)p?(?:(8|10|12|16)le)?", token):
            found["chroma"].append(m.group(1))
            if m.group(2):
                found["bits"].append(int(m.group(2)))
        elif m := re.fullmatch(r"(8|10|12|16)[-_]?bits?", token):
            found["bits"].append(int(m.group(1)))
    if not found["fps"] and after_size is not None and after_size < len(tokens):
        bare = tokens[after_size]
        if re.fullmatch(r"\d+(?:\.\d+)?", bare) and bare not in _CHROMA:  # JVET: Name_WxH_RATE.yuv
            found["fps"].append(parse_fps(bare, f"{path}: frame rate"))
    what = {"size": "frame sizes", "fps": "frame rates", "chroma": "chroma formats", "bits": "bit depths"}
    for key, values in found.items():
        if len(set(values)) > 1:
            shown = ", ".join(_show(key, v) for v in dict.fromkeys(values))
            raise InputError(f"{path}: its name gives two {what[key]} ({shown}); rename it or give "
                             + {"size": "--input-size", "fps": "--input-fps"}.get(key, "--pix-fmt"))
    return NameFormat(*(values[0] if values else None for values in found.values()))


def _show(key: str, value) -> str:
    if key == "size":
        return f"{value[0]}x{value[1]}"
    if key == "bits":
        return f"{value}-bit"
    return str(value)


@dataclass(frozen=True)
class RawFormat:
    """The layout of a raw file's frames, and how its samples are to be read as colour."""

    width: int
    height: int
    fps: Fraction
    pix_fmt: str
    matrix: str
    range: str
    #: where each of size / fps / pix_fmt came from: "name", "option" or "default"
    origin: tuple[str, str, str] = ("option", "option", "option")

    @property
    def bits(self) -> int:
        return PIX_FMTS[self.pix_fmt][2]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8) if self.bits == 8 else np.dtype("<u2")

    @property
    def plane_shapes(self) -> tuple[tuple[int, int], ...]:
        sx, sy = PIX_FMTS[self.pix_fmt][:2]
        chroma = (-(-self.height // sy), -(-self.width // sx))
        return (self.height, self.width), chroma, chroma

    @property
    def frame_bytes(self) -> int:
        return sum(h * w for h, w in self.plane_shapes) * self.dtype.itemsize

    def describe(self) -> str:
        origin = dict(zip(("size", "rate", "pixel format"), self.origin))
        said = [k for k, v in origin.items() if v == "name"]
        assumed = [k for k, v in origin.items() if v == "default"]
        return (f"raw {self.pix_fmt}, {self.matrix}/{self.range}"
                + (f"; {_words(said)} from the name" if said else "")
                + (f"; {_words(assumed)} assumed" if assumed else ""))


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def format_for(path: str | os.PathLike, options: Optional[RawOptions] = None) -> RawFormat:
    """A raw file's format: the options where given, else its name, else the defaults (4:2:0,
    8 bits, 25 fps; BT.709 from 720 lines, BT.601 below; tv range). The size must come from one of
    them; an option's bit depth may not contradict the name's."""
    from .io import MATRICES, MAX_SIZE, RANGES, default_matrix

    options = options or RawOptions()
    name = parse_name(path)
    if options.pix_fmt is not None and options.pix_fmt not in PIX_FMTS:
        raise InputError(f"{path}: --pix-fmt {options.pix_fmt!r} is not a planar YUV format nvcodec reads; "
                         f"use one of {', '.join(PIX_FMTS)}")
    if name.bits is not None and name.bits not in (8, 10, 12):
        raise InputError(f"{path}: its name says {name.bits}-bit; nvcodec reads 8-, 10- and 12-bit raw YUV "
                         f"({', '.join(PIX_FMTS)})")
    if options.pix_fmt is not None:
        pix_fmt, fmt_origin = options.pix_fmt, "option"
        if name.bits is not None and name.bits != PIX_FMTS[pix_fmt][2]:
            raise InputError(f"{path}: its name says {name.bits}-bit but --pix-fmt {pix_fmt} is "
                             f"{PIX_FMTS[pix_fmt][2]}-bit; give --pix-fmt "
                             f"{pix_fmt_for(name.chroma or _chroma_of(pix_fmt), name.bits)} or rename the file")
    else:
        pix_fmt = pix_fmt_for(name.chroma or "420", name.bits or 8)
        fmt_origin = "name" if name.chroma or name.bits else "default"
    if options.size is not None:
        (width, height), size_origin = options.size, "option"
    elif name.size is not None:
        (width, height), size_origin = name.size, "name"
    else:
        raise InputError(f"{path}: a raw YUV file says nothing of its frame size; give --input-size WxH "
                         "or name it like Clip_1920x1080_30fps_420_8bit.yuv")
    if not (1 <= width <= MAX_SIZE and 1 <= height <= MAX_SIZE):
        raise InputError(f"{path}: frame size {width}x{height} is outside 1..{MAX_SIZE} pixels a side")
    fps, fps_origin = ((options.fps, "option") if options.fps is not None else
                       (name.fps, "name") if name.fps is not None else (DEFAULT_FPS, "default"))
    matrix = options.matrix or default_matrix(height)
    range_ = options.range or "tv"
    if matrix not in MATRICES or range_ not in RANGES:
        raise InputError(f"{path}: colour {matrix}/{range_}: use a matrix of {', '.join(MATRICES)} and a range "
                         f"of {', '.join(RANGES)}")
    return RawFormat(width, height, fps, pix_fmt, matrix, range_, (size_origin, fps_origin, fmt_origin))


def _chroma_of(pix_fmt: str) -> str:
    return pix_fmt[3:6]


def frame_count(path: str | os.PathLike, fmt: RawFormat) -> int:
    """How many frames the file holds; refused unless its size is a whole number of frames."""
    size = os.stat(path).st_size
    if size % fmt.frame_bytes:
        raise InputError(f"{path}: {size} bytes is not a whole number of {fmt.width}x{fmt.height} {fmt.pix_fmt} "
                         f"frames of {fmt.frame_bytes} bytes ({size // fmt.frame_bytes} frames and {size % fmt.frame_bytes} "
                         "bytes over); check "
                         "--input-size and --pix-fmt, or the name's _WxH_ and _8bit_/_10bit_")
    return size // fmt.frame_bytes


class RawReader:
    """Frames of a raw file by index, each read from its offset on demand (nothing is mapped or
    kept): ``planes(i)`` the samples as they are stored, ``frame(i)`` as a PyAV frame."""

    def __init__(self, path: str | os.PathLike, fmt: RawFormat):
        self.path = Path(path)
        self.fmt = fmt
        self.frames = frame_count(path, fmt)

    def planes(self, index: int) -> tuple[np.ndarray, ...]:
        fmt = self.fmt
        if not 0 <= index < self.frames:
            raise IndexError(index)
        buf = np.empty(fmt.frame_bytes, np.uint8)
        try:
            with open(self.path, "rb", buffering=0) as f:
                f.seek(index * fmt.frame_bytes)
                got = f.readinto(buf)
        except OSError as e:
            raise InputError(f"{self.path}: cannot read ({e.strerror})") from None
        if got != fmt.frame_bytes:
            raise InputError(f"{self.path}: frame {index} ended after {got} of {fmt.frame_bytes} bytes: the file "
                             "shrank while it was read")
        samples, out, at = buf.view(fmt.dtype), [], 0
        for h, w in fmt.plane_shapes:
            out.append(samples[at:at + h * w].reshape(h, w))
            at += h * w
        return tuple(out)

    def frame(self, index: int):
        return to_av_frame(self.planes(index), self.fmt.pix_fmt)


def to_av_frame(planes, pix_fmt: str):
    """Planes (uint8, or little-endian uint16 above 8 bits) -> a PyAV VideoFrame of ``pix_fmt``."""
    import av

    h, w = planes[0].shape
    frame = av.VideoFrame(w, h, pix_fmt)
    for plane, data in zip(frame.planes, planes):
        rows = np.ascontiguousarray(data).view(np.uint8)
        buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        buf[: rows.shape[0], : rows.shape[1]] = rows
    return frame


def from_av_frame(frame) -> tuple[np.ndarray, ...]:
    """A planar YUV PyAV frame -> its planes, without the rows' padding."""
    sx, sy, bits = PIX_FMTS[frame.format.name]
    h, w = frame.height, frame.width
    size = 1 if bits == 8 else 2
    shapes = [(h, w), (-(-h // sy), -(-w // sx)), (-(-h // sy), -(-w // sx))]
    out = []
    for plane, (ph, pw) in zip(frame.planes, shapes):
        buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        out.append(buf[:ph, :pw * size].copy().view(np.uint8 if size == 1 else np.dtype("<u2")))
    return tuple(out)


class RawWriter:
    """Writes planar YUV frames to an open binary file, converting RGB or yuv420p planes to
    ``pix_fmt`` with the given colour matrix and range (swscale, as every other writer)."""

    def __init__(self, file, pix_fmt: str, matrix: str, range_: str):
        if pix_fmt not in PIX_FMTS:
            raise OutputError(f"--pix-fmt {pix_fmt!r}: a .yuv file is written as one of {', '.join(PIX_FMTS)}")
        self.file, self.pix_fmt, self.matrix, self.range = file, pix_fmt, matrix, range_

    def write_rgb(self, image: np.ndarray) -> None:
        import av

        from .io import _SWS_RANGE, _SWS_SPACE, _sws_flags

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        space = _SWS_SPACE[self.matrix]
        out = frame.reformat(format=self.pix_fmt, src_colorspace=space, dst_colorspace=space,
                             src_color_range="JPEG", dst_color_range=_SWS_RANGE[self.range],
                             interpolation=_sws_flags("convert"))
        self._put(from_av_frame(out))

    def write_yuv420(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        if self.pix_fmt == "yuv420p":
            self._put((y, u, v))
            return
        from .io import _SWS_RANGE, _SWS_SPACE, _sws_flags

        space, rng = _SWS_SPACE[self.matrix], _SWS_RANGE[self.range]
        out = to_av_frame((y, u, v), "yuv420p").reformat(
            format=self.pix_fmt, src_colorspace=space, dst_colorspace=space, src_color_range=rng,
            dst_color_range=rng, interpolation=_sws_flags("convert"))
        self._put(from_av_frame(out))

    def _put(self, planes) -> None:
        for p in planes:
            self.file.write(np.ascontiguousarray(p, dtype=np.uint8 if p.dtype == np.uint8 else "<u2").tobytes())


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    """Bytes of one frame of ``pix_fmt`` at width x height."""
    return RawFormat(width, height, DEFAULT_FPS, pix_fmt, "bt601", "tv").frame_bytes


def describe_output(width: int, height: int, fps: Fraction, pix_fmt: str) -> str:
    """How to read a written raw file back: its format as FFmpeg's options spell it."""
    rate = f"{fps.numerator}/{fps.denominator}" if fps.denominator != 1 else str(fps.numerator)
    return f"raw {pix_fmt} {width}x{height} at {rate} fps (ffmpeg -f rawvideo -pix_fmt {pix_fmt} -s {width}x{height} -r {rate})"

