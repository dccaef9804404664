"""Rate-distortion benchmark: nvcodec's curves against x264 / x265 on the same reference frames.

    nvcodec bench --clips bunny carphone bikes --models nerv nervpp hnerv --budget 2m

Every point is scored against the source's own frames (its yuv420p planes and their RGB
conversion, read once per clip). Baselines: PyAV's libx264 / libx265 (and optionally
libsvtav1) over a CRF ladder, sized by their raw stream. nvcodec: per model a ladder of
target rates, each turned into a parameter budget, fitted for a stated wall time, written to a
.nvc file; its size is the file's and its frames come from the standalone decoder.

Output, per clip: ``<out>/<clip>/<codec>.json`` in CompressAI's shape (written after every
point; a rerun skips the points already there), ``<out>/<clip>/rd.png``, and
``<out>/bd-rate.md`` with the BD-rates of every nvcodec curve against x264 and x265.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from ..errors import InputError
from ..io import SAMPLE_CLIPS, Video, read_video, rgb_frames_to_yuv420, write_atomic, yuv420_to_rgb
from ..metrics import bd_rate, frames_sha256, ms_ssim_rgb, overlap, psnr_rgb, psnr_yuv
from .provenance import provenance

#: The CPU sizes of docs/benchmark.md for the bundled clips; other inputs are used at their own size.
DEFAULT_SIZES = {"bunny": (320, 180), "carphone": (176, 144), "bikes": (320, 136)}
DEFAULT_RATES = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8)
#: nvcodec's --quality ladder (rate-aware fitting): wide enough to span x264's 25-39 dB
DEFAULT_QUALITIES = (6, 12, 18, 24, 30, 36)
#: Bits a parameter costs in a file at 8-bit quantization after entropy coding (measured ~7.1 on
#: bunny); only used to turn a target rate into a parameter budget, never to report a size.
BITS_PER_PARAM = 7.0
MS_SSIM_MIN_SIDE = 161  # five scales of an 11-tap window need a smaller side above 160
X26X_CRFS = (18, 23, 28, 33, 38, 43)


@dataclass(frozen=True)
class Baseline:
    """A baseline curve: an encoder, its preset and tune, and its default CRF ladder."""

    library: str
    preset: str
    tune: Optional[str]
    crfs: tuple[int, ...]

    def describe(self) -> str:
        preset = f"preset {self.preset}" if self.preset.isdigit() else self.preset
        return f"{self.library.removeprefix('lib')} {preset}" + (f" tune={self.tune}" if self.tune else "")


#: curve name (= results file stem) -> Baseline. medium: what papers call "x264 / x265 medium";
#: tune=psnr turns psy-rd and adaptive quantization off (they cost PSNR, and we compare by PSNR);
#: veryslow tune=psnr is the strongest x264 / x265 curve for a PSNR comparison. AV1's CRF scale
#: runs to 63 and reaches x264's rates only above ~40.
BASELINES = {
    "x264-medium": Baseline("libx264", "medium", None, X26X_CRFS),
    "x264-medium-psnr": Baseline("libx264", "medium", "psnr", X26X_CRFS),
    "x264-veryslow-psnr": Baseline("libx264", "veryslow", "psnr", X26X_CRFS),
    "x265-medium": Baseline("libx265", "medium", None, X26X_CRFS),
    "x265-medium-psnr": Baseline("libx265", "medium", "psnr", X26X_CRFS),
    "x265-veryslow-psnr": Baseline("libx265", "veryslow", "psnr", X26X_CRFS),
    "svtav1-preset8": Baseline("libsvtav1", "8", None, (28, 35, 42, 49, 56, 63)),
}
#: short names: the medium curve of each encoder
BASELINE_ALIASES = {"x264": "x264-medium", "x265": "x265-medium", "svtav1": "svtav1-preset8"}
DEFAULT_BASELINES = tuple(k for k in BASELINES if not k.startswith("svtav1"))


def baseline_curve(name: str) -> str:
    """The curve name of ``name`` (a curve name or a short alias such as ``x264``)."""
    name = BASELINE_ALIASES.get(name, name)
    if name not in BASELINES:
        raise InputError(f"baseline {name!r}: choose from {', '.join([*BASELINE_ALIASES, *BASELINES])}")
    return name


@dataclass(frozen=True)
class Clip:
    """A clip to benchmark: ``name[@WxH]``, where name is a bundled clip or a video's path. Its
    results folder is its name, plus the size and frame range where they are not the default."""

    label: str
    source: str
    size: Optional[tuple[int, int]]
    frames: Optional[tuple[int, Optional[int]]] = None

    @classmethod
    def parse(cls, text: str, frames: Optional[tuple[int, Optional[int]]] = None) -> "Clip":
        from ..io import parse_size

        source, _, size = text.partition("@")
        if not source:
            raise InputError(f"clip {text!r}: expected NAME or NAME@WxH, e.g. bunny@320x180")
        label = source if source in SAMPLE_CLIPS else Path(source).stem
        wh = parse_size(size) if size else DEFAULT_SIZES.get(source)
        if size and wh != DEFAULT_SIZES.get(source):
            label += f"-{wh[0]}x{wh[1]}"
        if frames:
            label += f"-frames{frames[0]}-{'end' if frames[1] is None else frames[1]}"
        return cls(label, source, wh, frames)


# ---------------------------------------------------------------------------- scoring
def score(reference: Video, rgb: np.ndarray, yuv: Optional[Sequence[np.ndarray]] = None,
          ms_ssim: bool = True) -> dict[str, Any]:
    """Quality of decoded frames against the reference: PSNR-RGB (mean of per-frame PSNR on
    8-bit RGB), PSNR-YUV (6:1:1 on yuv420p, with Y, U, V), MS-SSIM on RGB where the size allows.
    ``yuv``: the decoded yuv420p planes; by default converted from ``rgb`` with the clip's matrix."""
    info = reference.info
    if yuv is None:
        yuv = rgb_frames_to_yuv420(rgb, info.matrix, info.range)
    p = psnr_yuv(reference.yuv, yuv)
    small = min(info.width, info.height) < MS_SSIM_MIN_SIDE
    return {"psnr-rgb": psnr_rgb(rgb, reference.frames),
            "psnr-yuv": p["yuv"], "psnr-y": p["y"], "psnr-u": p["u"], "psnr-v": p["v"],
            "ms-ssim-rgb": None if small or not ms_ssim else ms_ssim_rgb(rgb, reference.frames)}


def decode_baseline(data: bytes, library: str, info) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray, float]:
    """A baseline stream decoded: its yuv420p planes, the RGB frames (with the clip's matrix and
    range, as nvcodec is scored), and the seconds the decode took."""
    from .baseline import decode_yuv

    yuv, seconds = decode_yuv(data, library)
    rgb = np.stack([yuv420_to_rgb(yuv[0][i], yuv[1][i], yuv[2][i], info.matrix, info.range) for i in range(len(yuv[0]))])
    return yuv, rgb, seconds


def baseline_rd_point(video: Video, name: str, crf: int, stream: Optional[Path] = None,
                      ms_ssim: bool = True) -> dict[str, Any]:
    """One point of a baseline curve (``video`` read with keep_yuv=True). Its bytes are those of
    the stream a decoder needs (informational SEI dropped, and counted apart), and its frames
    are decoded from that stream; ``stream``: where to keep it, if anywhere."""
    from .baseline import encode_yuv

    b = BASELINES[baseline_curve(name)]
    enc = encode_yuv(video, b.library, crf, b.preset, b.tune)
    if stream is not None:
        write_atomic(stream, enc.data)
    yuv, rgb, decode_s = decode_baseline(enc.data, b.library, video.info)
    info = video.info
    return {"crf": crf, "bytes": len(enc.data), "bpp": info.bpp(len(enc.data)),
            **score(video, rgb, yuv, ms_ssim), "encode_s": enc.seconds, "decode_s": decode_s,
            "sei-bytes-dropped": enc.sei_bytes_dropped, "sha256": hashlib.sha256(enc.data).hexdigest()}


def psnr_at_rate(points: Sequence[dict[str, Any]], bpp: float) -> float:
    """PSNR-RGB of a curve interpolated at ``bpp`` (linear in log rate); NaN outside its range."""
    pts = sorted((p["bpp"], p["psnr-rgb"]) for p in points)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= bpp <= r1:
            t = 0.0 if r1 == r0 else (math.log(bpp) - math.log(r0)) / (math.log(r1) - math.log(r0))
            return q0 + t * (q1 - q0)
    return float("nan")


def params_for_rate(info, rate: float) -> int:
    return max(1000, round(rate * info.frames * info.width * info.height / BITS_PER_PARAM))


def nvcodec_rd_point(video: Video, model: str, method: str, knob: float, budget: float, bits: Optional[int],
                     stream: Path, colorspace: str = "rgb",
                     model_options: Optional[dict[str, Any]] = None, params: Optional[int] = None) -> dict[str, Any]:
    """One nvcodec point. ``method``: "rate-control" (rate-aware, steered to ``knob`` bpp),
    "quality" (rate-aware at quality ``knob``) or "ptq" (fitted in float and quantized to ``bits``
    with a parameter budget for target rate ``knob``). ``colorspace`` "yuv420": the network renders
    yuv420p planes, scored as they are (PSNR-YUV) and converted to RGB for PSNR-RGB.
    ``model_options``: passed to the model's ``configure`` (a variant of its shape); ``params``:
    the network's size under rate control (default: the encoder's size for the target)."""
    from ..bitstream.decoder import decode_frames, decode_yuv420
    from ..training.encoder import encode_video
    from ..training.fit import FitConfig
    from ..training.parallel import Processes

    # a point is one process's work, also when the bench's points are spread over several
    common = {"model": model, "fit_config": FitConfig(time_budget=budget, quiet=True), "colorspace": colorspace,
              "processes": Processes(), "model_options": model_options}
    if method == "rate-control":
        enc = encode_video(video, stream, target_bpp=knob, params=params, **common)
    elif method == "quality":
        enc = encode_video(video, stream, quality=int(knob), **common)
    else:
        enc = encode_video(video, stream, params=params_for_rate(video.info, knob), bits=bits, **common)
    began = time.perf_counter()
    rgb = decode_frames(stream)  # the standalone decoder, from the file on disk
    decode_s = time.perf_counter() - began
    yuv = decode_yuv420(stream) if colorspace == "yuv420" else None  # its own planes, not the RGB converted back
    size = stream.stat().st_size
    point = {"quality" if method == "quality" else "target-bpp": knob, "bytes": size, "bpp": video.info.bpp(size),
             **score(video, rgb, yuv), "encode_s": enc.encode_s, "decode_s": decode_s,
             "parameters": enc.parameters, "epochs": enc.fit.epochs, "fit_s": enc.fit.seconds}
    if enc.estimated_bits is not None:
        point.update({"estimated-value-bytes": enc.estimated_bits / 8, "coded-value-bytes": enc.coded_bits // 8})
    return point


# ---------------------------------------------------------------------------- results files
def read_results(path: Path) -> dict[str, Any]:
    """A results JSON; a damaged one is named (and left as it is) rather than overwritten."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a results file of nvcodec bench ({e}); move it away or "
                         "choose another --output-dir") from None


class ResultFile:
    """One curve, ``<out>/<clip>/<codec>.json``: points as CompressAI's column lists, sorted by
    rate. ``setup`` (clip size, frames, budget, ...) must match for stored points to be kept."""

    def __init__(self, path: Path, name: str, description: str, knob: str, setup: dict[str, Any], meta: dict[str, Any]):
        self.path, self.name, self.description, self.knob = path, name, description, knob
        self.setup, self.meta = setup, meta
        self.points: list[dict[str, Any]] = []
        self.replaces_other_setup = False
        if path.exists():
            old = read_results(path)
            try:
                stored_setup, cols = old["meta"]["setup"], old["results"]
            except (KeyError, TypeError) as e:
                raise InputError(f"{path}: not a results file of nvcodec bench (no {e}); move it away or "
                                 "choose another --output-dir") from None
            if stored_setup == setup:
                self.points = [dict(zip(cols, row)) for row in zip(*cols.values())]
            else:
                self.replaces_other_setup = True

    def has(self, value: Any) -> bool:
        return any(p[self.knob] == value for p in self.points)

    def add(self, point: dict[str, Any]) -> None:
        self.points = sorted([p for p in self.points if p[self.knob] != point[self.knob]] + [point], key=lambda p: p["bpp"])
        self.save()

    def save(self) -> None:
        keys = list(dict.fromkeys(k for p in self.points for k in p))
        meta = {**self.meta, "setup": self.setup}
        if any(p.get("commit") is None for p in self.points):
            meta["notes"] = [*meta.get("notes", []), "points whose commit is null were made before results "
                             "recorded the commit of the code that made them"]
        report = {"name": self.name, "description": self.description,
                  "results": {k: [p.get(k) for p in self.points] for k in keys},
                  "meta": meta}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, (json.dumps(report, indent=1) + "\n").encode())


def load_curves(clip_dir: Path) -> dict[str, dict[str, Any]]:
    """Every curve (``<codec>.json``) in a clip's folder, by file name. Curves of another size or
    frame range than the first baseline's are left out with a warning: they are not comparable."""
    curves = {}
    for path in sorted(clip_dir.glob("*.json")):
        data = read_results(path)
        if "bpp" in data.get("results", {}) and "psnr-rgb" in data["results"]:
            curves[path.stem] = data

    def where(c: dict) -> tuple:
        setup = c.get("meta", {}).get("setup", {})
        return tuple(str(setup.get(k)) for k in ("clip", "size", "frames", "first_frame"))

    anchor = next((c for k, c in curves.items() if not _is_ours(k)), None)
    for name in [k for k, c in curves.items() if anchor is not None and where(c) != where(anchor)]:
        print(f"nvcodec bench: {clip_dir / name}.json is of another clip size or frame range; left out", file=sys.stderr)
        del curves[name]
    return curves


# ---------------------------------------------------------------------------- running
def run_benchmark(clips: Sequence[Clip], models: Sequence[str], baselines: Sequence[str] = DEFAULT_BASELINES,
                  budget: float = 120.0, qualities: Optional[Sequence[int]] = None,
                  rates: Sequence[float] = DEFAULT_RATES, crfs: Optional[Sequence[int]] = None,
                  bits: Optional[int] = None, out: str | os.PathLike = "bench/results", command: str = "",
                  quiet: bool = False, colorspace: str = "rgb") -> None:
    """Run every missing point, one at a time, writing results as they come; then plots and table.
    nvcodec: rate-aware fitting with rate control over the target ``rates``; with ``qualities``,
    rate-aware fitting over that --quality ladder instead; with ``bits``, fitting in float and
    quantizing to ``bits`` over the target ``rates`` (the earlier path). ``baselines``: curve
    names or aliases (BASELINES, BASELINE_ALIASES); ``crfs``: one CRF ladder for every baseline
    instead of each one's default; ``colorspace`` "yuv420": nvcodec curves fitted to yuv420p
    planes (their files and names end in -yuv420). Streams are kept in ``<out>/<clip>/streams/``.
    Under torchrun the points are dealt out to the processes in turn, each point run by one
    process alone; rank 0 collects them clip by clip and alone writes the results."""
    from tqdm.auto import tqdm

    from ..training import parallel
    from .baseline import STREAM_SUFFIX
    from ..models import model_class

    procs = parallel.start("cpu")
    quiet = quiet or not procs.main

    for m in models:
        model_class(m)
    baselines = list(dict.fromkeys(baseline_curve(b) for b in baselines))
    out = Path(out)
    say = (lambda *a: None) if quiet else (lambda *a: tqdm.write(" ".join(map(str, a)), file=sys.stderr))
    record = provenance(command or None)
    commit = (record["commit"] or "unknown")[:12] + ("+changes" if record["dirty"] else "")

    def curve(*args) -> ResultFile:
        f = ResultFile(*args)
        if f.replaces_other_setup:
            say(f"{f.path}: its points were made with another setup (size, frames, budget, bits or byte "
                "counting); they are replaced")
        return f
    for clip in clips:
        video = read_video(clip.source, frames=clip.frames, size=clip.size, keep_yuv=True)
        info = video.info
        reference = frames_sha256(video.frames)  # what every point of the clip is scored against
        base_setup = {"clip": clip.source, "size": [info.width, info.height], "frames": info.frames,
                      "first_frame": clip.frames[0] if clip.frames else 0}
        notes = []
        if min(info.width, info.height) < MS_SSIM_MIN_SIDE:
            notes.append(f"ms-ssim-rgb is null: {info.width}x{info.height} is too small for MS-SSIM's five scales "
                         f"(needs a smaller side of {MS_SSIM_MIN_SIDE} px or more)")
        streams = out / clip.label / "streams"
        jobs = []
        for name in baselines:
            b = BASELINES[name]
            f = curve(out / clip.label / f"{name}.json", b.describe(),
                      f"{b.library} preset {b.preset}{f' tune {b.tune}' if b.tune else ''}, 1 thread, CRF ladder, "
                      "fed the source's yuv420p planes; bytes of the raw elementary stream without the encoder's "
                      "informational SEI (counted in sei-bytes-dropped); frames decoded from the counted stream.",
                      "crf", {**base_setup, "codec": b.library, "preset": b.preset, "tune": b.tune,
                              "bytes": "stream without informational SEI"},
                      {"provenance": record, "budget": "none (CRF ladder)", "notes": notes})
            jobs += [(f, crf, lambda name=name, crf=crf, f=f: baseline_rd_point(
                video, name, crf, _mkdir(streams) / f"{name}-crf{crf}{STREAM_SUFFIX[BASELINES[name].library]}"))
                     for crf in crfs or b.crfs if not f.has(crf)]
        for m in models:
            # one file per (model, method, budget): curves at other budgets and of the other method stay beside it
            method = "ptq" if bits is not None else "quality" if qualities else "rate-control"
            if method == "rate-control":
                tag, knob, ladder = f"{m}-rc-{budget:g}s", "target-bpp", rates
                name = f"nvcodec {m} rate control, {budget:g} s"
                description = (f"nvcodec {m}: rate-aware fitting (loss = MSE + lambda * bpp, learned quantization) with "
                               "rate control (--target-bpp: lambda steered while fitting, size and lambda's start from "
                               f"the target) over a ladder of target rates, {budget:g} s of wall time on this CPU, "
                               "bytes of the .nvc file, frames from the standalone decoder")
            elif method == "quality":
                tag, knob, ladder = f"{m}-rd-{budget:g}s", "quality", qualities
                name = f"nvcodec {m} rate-aware, {budget:g} s"
                description = (f"nvcodec {m}: rate-aware fitting (loss = MSE + lambda * bpp, learned quantization) over a "
                               f"--quality ladder, network size from the quality, {budget:g} s of wall time on this CPU, "
                               "bytes of the .nvc file, frames from the standalone decoder")
            else:
                tag, knob, ladder = f"{m}-{budget:g}s" + ("" if bits == 8 else f"-{bits}bit"), "target-bpp", rates
                name = f"nvcodec {m}, {budget:g} s" + ("" if bits == 8 else f", {bits}-bit")
                description = (f"nvcodec {m}: a parameter budget per target rate, fitted {budget:g} s of wall time on this "
                               f"CPU, {bits}-bit quantization after fitting, bytes of the .nvc file, frames from the "
                               "standalone decoder")
            if colorspace != "rgb":
                tag, name = f"{tag}-{colorspace}", f"{name}, {colorspace}"
                description += (f"; the network renders {colorspace} planes (Y full, U and V half resolution) fitted "
                                "under PSNR-YUV's 6:1:1 weights, scored on its own planes")
            f = curve(out / clip.label / f"nvcodec-{tag}.json", name, description, knob,
                      {**base_setup, "model": m, "budget_s": budget, "bits": 8 if bits is None else bits,
                       **({"colorspace": colorspace} if colorspace != "rgb" else {}),
                       **({"method": "rate-aware"} if method == "quality" else
                          {"method": "rate-aware, rate control"} if method == "rate-control" else {})},
                      {"provenance": record, "budget": f"{budget:g} s wall time per point", "notes": notes})
            jobs += [(f, k, lambda m=m, k=k, tag=tag, method=method: nvcodec_rd_point(
                video, m, method, k, budget, bits, _mkdir(streams) / f"{tag}-{k:g}.nvc", colorspace))
                     for k in ladder if not f.has(k)]
        say(f"{clip.label}: {info.width}x{info.height}, {info.frames} frames; {len(jobs)} points to run"
            + (f", {procs.size} processes" if procs.size > 1 else ""))
        if procs.size > 1:  # each process lists its points from the curves' files: all before rank 0 writes one
            parallel.gather(None, procs)
        mine = list(enumerate(jobs))[procs.rank::procs.size]
        done = []
        for i, (f, knob, job) in tqdm(mine, desc=clip.label, unit="point", disable=quiet):
            point = {**job(), "commit": commit, "reference-sha256": reference}
            done.append((i, point))
            if procs.main:  # the others' points come at the clip's end
                f.add(point)
                say(f"  {f.name} {f.knob}={knob}: {point['bytes']} B, {point['bpp']:.4f} bpp, "
                    f"PSNR-RGB {point['psnr-rgb']:.2f} dB, PSNR-YUV {point['psnr-yuv']:.2f} dB")
        if procs.size > 1:
            everyone = parallel.gather(done, procs)
            if not procs.main:
                continue
            for i, point in sorted((p for rank in everyone[1:] for p in rank), key=lambda p: p[0]):
                jobs[i][0].add(point)
        write_report(out, clip.label, quiet=quiet)
    if procs.main:
        write_bd_table(out)
    parallel.finish(procs)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------- BD-rate and plots
def _is_ours(name: str) -> bool:
    """nvcodec's curves, and the latent-grid probe's (bench/studies/2026-11-26-latent-probe/latent_probe.py): never a baseline."""
    return name.startswith(("nvcodec-", "latent-probe-"))


def bd_point(ref: dict[str, Any], test: dict[str, Any], metric: str) -> dict[str, Any]:
    """BD-rate (%) of curve ``test`` against ``ref``, PCHIP and cubic, with the quality range they
    share (``overlap_db``, None where they do not overlap: then the rates are NaN)."""
    r, t = ref["results"], test["results"]
    shared = overlap(r[metric], t[metric])
    return {**{m: bd_rate(r["bpp"], r[metric], t["bpp"], t[metric], m) for m in ("pchip", "cubic")},
            "overlap_db": list(shared) if shared else None}


def bd_rates(curves: dict[str, dict[str, Any]], metric: str = "psnr-rgb") -> list[dict[str, Any]]:
    """BD-rate (%) of every nvcodec curve against every baseline curve, PCHIP and cubic, with the
    quality range they share; NaN where they do not overlap."""
    rows = []
    anchors = {k: v for k, v in curves.items() if not _is_ours(k) and len(v["results"]["bpp"]) >= 2}
    for name, test in curves.items():
        if not _is_ours(name) or len(test["results"]["bpp"]) < 2:
            continue
        row = {"curve": name, "model": _curve_label(name, test), "budget": test["meta"].get("budget", "?")}
        row.update({ref_name: bd_point(ref, test, metric) for ref_name, ref in anchors.items()})
        rows.append(row)
    return rows


def _curve_label(name: str, curve: dict[str, Any]) -> str:
    """What made one of our curves, for the tables: the model and its path (rate control, rate-aware,
    quantized after fitting), and the suffix of an earlier curve kept beside."""
    setup = curve["meta"].get("setup", {})
    if name.startswith("latent-probe-"):
        return f"latent-grid probe (time stride {setup.get('time_stride', 1)})"
    label = setup.get("model", name.removeprefix("nvcodec-"))
    if "model" in setup:  # which path made it: rate-aware fitting, or quantization after fitting
        label += {"rate-aware": " rate-aware", "rate-aware, rate control": " rate control"}.get(
            setup.get("method"), f" {setup.get('bits', 8)}-bit after fit")
        kept = name.split(f"-{setup.get('budget_s', 0):g}s-", 1)  # an earlier curve kept beside, e.g. -slowquant
        if len(kept) == 2:
            label += f" ({kept[1]})"
    return label


def bd_rates_against_nerv(curves: dict[str, dict[str, Any]], metric: str = "psnr-rgb") -> list[dict[str, Any]]:
    """BD-rate (%) of every other model's nvcodec curve against NeRV's curve made the same way (the
    same path, budget and colorspace: the file name with ``nerv`` for the model), where the clip has
    one: how a model is chosen over NeRV (docs/models.md)."""
    rows = []
    for name, test in curves.items():
        model = test["meta"].get("setup", {}).get("model")
        if not name.startswith("nvcodec-") or model in (None, "nerv") or len(test["results"]["bpp"]) < 2:
            continue
        nerv = curves.get(name.replace(f"nvcodec-{model}-", "nvcodec-nerv-", 1))
        if nerv is None or len(nerv["results"]["bpp"]) < 2:
            continue
        rows.append({"curve": name, "model": _curve_label(name, test), "budget": test["meta"].get("budget", "?"),
                     "nerv": bd_point(nerv, test, metric)})
    return rows


def strongest_baseline(curves: dict[str, dict[str, Any]], metric: str = "psnr-rgb",
                       reference: str = "x264-medium") -> Optional[str]:
    """Of a clip's x264 / x265 curves, the one that needs the fewest bits for the same quality:
    the lowest BD-rate (PCHIP) against ``reference`` (which counts as 0 %)."""
    if reference not in curves:
        return None
    best, best_rate = reference, 0.0
    for name, c in curves.items():
        if name == reference or _is_ours(name) or not name.startswith(("x264", "x265")):
            continue
        rate = bd_point(curves[reference], c, metric)["pchip"]
        if not math.isnan(rate) and rate < best_rate:
            best, best_rate = name, rate
    return best


def _cell(d: Optional[dict[str, Any]]) -> str:
    if d is None:
        return "–"
    if d["overlap_db"] is None:
        return "no overlap"
    if math.isnan(d["pchip"]):
        return "n/a: a curve is not monotone"
    lo, hi = d["overlap_db"]
    return f"{d['pchip']:+.1f}% / {d['cubic']:+.1f}% ({lo:.1f}–{hi:.1f})"


def _budget(row: dict[str, Any]) -> str:
    """A table row's budget as the tables print it ("120 s", not "120 s wall time per point")."""
    return row["budget"].removesuffix(" wall time per point")


def bd_markdown(out: Path) -> str:
    """The BD-rate report: a summary (every nvcodec curve against x264 medium and against the
    clip's strongest x264 / x265 curve), the other models against NeRV, the baselines against x264
    medium, and every pair."""
    clips = []
    for clip_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        curves = load_curves(clip_dir)
        if any(not _is_ours(k) for k in curves):
            setup = next(iter(curves.values()))["meta"].get("setup", {})
            clips.append((f"{clip_dir.name} {'x'.join(map(str, setup.get('size', [])))}", curves))
    lines = ["# BD-rate of nvcodec against the baselines", "",
             "Negative = fewer bits than the baseline at equal quality; computed over the quality range both "
             "curves cover only (the overlap, in dB). PCHIP as JVET's spreadsheet / cubic as VCEG-M33. "
             "Baseline bytes exclude the encoders' informational SEI. Written by `nvcodec bench` (protocol: "
             "docs/benchmark.md); the curves are the JSON files beside this one.", ""]
    for metric in ("psnr-rgb", "psnr-yuv"):
        lines += [f"## {metric.upper()}: summary", "",
                  "Strongest = the clip's x264 / x265 curve with the lowest BD-rate against x264 medium.", "",
                  "| clip | model | budget | vs x264 medium: PCHIP / cubic (overlap dB) | strongest baseline "
                  "| vs strongest: PCHIP / cubic (overlap dB) |", "|---|---|---|---|---|---|"]
        for label, curves in clips:
            best = strongest_baseline(curves, metric)
            for row in bd_rates(curves, metric):
                budget = _budget(row)
                lines.append(f"| {label} | {row['model']} | {budget} | {_cell(row.get('x264-medium'))} | "
                             f"{best or '–'} | {_cell(row.get(best)) if best else '–'} |")
        lines += ["", f"### {metric.upper()}: nvcodec models against NeRV made the same way", "",
                  "NeRV's curve of the same path, budget and colorspace, where the clip has one (negative = "
                  "fewer bits than NeRV). Curves run on different days carry this machine's drift (each JSON's "
                  "provenance has its date); side-by-side comparisons are the studies'.", "",
                  "| clip | model | budget | vs NeRV: PCHIP / cubic (overlap dB) |", "|---|---|---|---|"]
        for label, curves in clips:
            for row in bd_rates_against_nerv(curves, metric):
                budget = _budget(row)
                lines.append(f"| {label} | {row['model']} | {budget} | {_cell(row['nerv'])} |")
        lines += ["", f"### {metric.upper()}: baselines against x264 medium", "",
                  "| clip | baseline | PCHIP / cubic (overlap dB) |", "|---|---|---|"]
        for label, curves in clips:
            for name, c in curves.items():
                if not _is_ours(name) and name != "x264-medium" and "x264-medium" in curves:
                    lines.append(f"| {label} | {name} | {_cell(bd_point(curves['x264-medium'], c, metric))} |")
        lines += ["", f"### {metric.upper()}: every nvcodec curve against every baseline", "",
                  "| clip | model | budget | baseline | PCHIP / cubic (overlap dB) |", "|---|---|---|---|---|"]
        for label, curves in clips:
            for row in bd_rates(curves, metric):
                budget = _budget(row)
                for name in curves:
                    if name in row:
                        lines.append(f"| {label} | {row['model']} | {budget} | {name} | {_cell(row[name])} |")
        lines.append("")
    return "\n".join(lines)


def write_bd_table(out: str | os.PathLike) -> Path:
    out = Path(out)
    if not out.is_dir():
        raise InputError(f"{out}: no such results folder (run nvcodec bench first, or give -o)")
    path = out / "bd-rate.md"
    write_atomic(path, bd_markdown(out).encode())
    return path


def write_report(out: str | os.PathLike, clip: str, quiet: bool = False) -> Optional[Path]:
    """The RD plot of a clip (``rd.png``): PSNR-RGB and PSNR-YUV against bpp, every curve."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        if not quiet:
            print("nvcodec bench: no RD plot: matplotlib is missing (pip install -e '.[bench]')", file=sys.stderr)
        return None
    clip_dir = Path(out) / clip
    curves = load_curves(clip_dir)
    if not curves:
        return None
    setup = next(iter(curves.values()))["meta"].get("setup", {})
    budgets = sorted({c["meta"].get("budget", "") for k, c in curves.items() if k.startswith("nvcodec-")})
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, metric in zip(axes, ("psnr-rgb", "psnr-yuv")):
        for name, c in curves.items():
            r = c["results"]
            ours = _is_ours(name)
            ax.plot(r["bpp"], r[metric], "o-" if ours else "s--", label=c["name"], lw=2 if ours else 1.2, ms=4)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(f"{metric.upper()} (dB)")
        ax.grid(True, which="both", alpha=0.3)
    # below the panels, in columns: a dozen curves in a legend inside a panel hid its data
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    rows = -(-len(labels) // 2)
    fig.set_size_inches(12, 4.8 + 0.17 * rows)
    size = "x".join(map(str, setup.get("size", [])))
    fig.suptitle(f"{clip} {size}, {setup.get('frames', '?')} frames — nvcodec: {', '.join(budgets)} on a CPU; "
                 "baselines: CRF ladder", fontsize=10)
    fig.tight_layout(rect=(0, 0.17 * rows / (4.8 + 0.17 * rows), 1, 1))
    path = clip_dir / "rd.png"
    tmp = clip_dir / ".rd.png.tmp"
    try:
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def parse_list(text: str, kind: type, what: str, allow_zero: bool = False) -> list:
    try:
        values = [kind(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise InputError(f"{what} {text!r}: expected a comma-separated list of numbers") from None
    if not values or any(v < 0 if allow_zero else v <= 0 for v in values):
        raise InputError(f"{what} {text!r}: expected {'non-negative' if allow_zero else 'positive'} numbers")
    return values


def report_only(out: str | os.PathLike, clips: Iterable[str]) -> None:
    if not Path(out).is_dir():
        raise InputError(f"{out}: no such results folder (run nvcodec bench first, or give -o)")
    for clip in clips:
        write_report(out, clip)
    write_bd_table(out)
