"""``nvcodec demo``: the whole chain on the bundled Big Buck Bunny at 320x180, with x264 beside it."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from .bitstream.decoder import decode, decode_frames
from .training.encoder import DEFAULT_MODEL, DEFAULT_QUALITY, encode_video
from .training.fit import FitConfig
from .io import read_video
from .metrics import psnr_rgb
from .rd.provenance import provenance
from .rd.picture import save_png, side_by_side
from .rd.runner import baseline_rd_point, decode_baseline, psnr_at_rate

DEMO_SIZE = (320, 180)


def x264_frames_near(video, bpp: float, ladder: list[dict]) -> tuple[int, float, np.ndarray]:
    """(crf, bpp, RGB frames) of x264 medium at the integer CRF whose rate is nearest ``bpp``:
    the ladder's nearest point and its neighbours, encoded and decoded again."""
    from .rd.baseline import encode_yuv

    def distance(rate: float) -> float:
        return abs(math.log(rate / bpp))

    nearest = min(ladder, key=lambda p: distance(p["bpp"]))["crf"]
    streams = {crf: encode_yuv(video, "libx264", crf, "medium").data
               for crf in range(max(nearest - 1, 0), min(nearest + 1, 51) + 1)}
    crf = min(streams, key=lambda c: distance(video.info.bpp(len(streams[c]))))
    _, rgb, _ = decode_baseline(streams[crf], "libx264", video.info)
    return crf, video.info.bpp(len(streams[crf])), rgb


def run_demo(output_dir: str = "nvcodec-demo", time_budget: float = 240.0, quiet: bool = False) -> dict:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    video = read_video("bunny", size=DEMO_SIZE, keep_yuv=True)
    i = video.info
    say(f"bunny: {i.width}x{i.height}, {i.frames} frames; fitting {DEFAULT_MODEL} at quality {DEFAULT_QUALITY} "
        f"for {time_budget:.0f} s")
    enc = encode_video(video, out / "demo.nvc", model=DEFAULT_MODEL, fit_config=FitConfig(time_budget=time_budget, quiet=quiet))
    dec = decode(out / "demo.nvc", out / "demo.mp4", quiet=quiet)
    began = time.perf_counter()
    frames = decode_frames(out / "demo.nvc")
    render_s = time.perf_counter() - began
    psnr = psnr_rgb(frames, video.frames)
    ladder = [baseline_rd_point(video, "x264", crf, ms_ssim=False) for crf in range(18, 52, 3)]
    x264 = psnr_at_rate(ladder, enc.bpp)
    crf, x264_bpp, x264_frames = x264_frames_near(video, enc.bpp, ladder)
    k = i.frames // 2
    picture = side_by_side([(f"source, frame {k}", video.frames[k]),
                            (f"nvcodec {enc.bpp:.3f} bpp {psnr_rgb(frames[k:k + 1], video.frames[k:k + 1]):.1f} dB", frames[k]),
                            (f"x264 crf {crf} {x264_bpp:.3f} bpp "
                             f"{psnr_rgb(x264_frames[k:k + 1], video.frames[k:k + 1]):.1f} dB", x264_frames[k])])
    save_png(out / "demo.png", picture)
    report = {"clip": "bunny", "size": f"{i.width}x{i.height}", "frames": i.frames, "model": DEFAULT_MODEL,
              "quality": enc.quality, "parameters": enc.parameters, "bytes": enc.bytes, "bpp": enc.bpp, "psnr_rgb": psnr,
              "psnr_rgb_before_quantization": enc.psnr_float, "reference_sha256": enc.reference_sha256,
              "epochs": enc.fit.epochs,
              "encode_s": enc.encode_s, "decode_s": dec.seconds, "render_fps": i.frames / render_s,
              "x264_medium_psnr_rgb_at_same_bpp": x264,
              "picture": {"file": "demo.png", "frame": k, "x264_crf": crf, "x264_bpp": x264_bpp},
              "estimated_value_bytes": enc.estimated_bits / 8, "coded_value_bytes": enc.coded_bits // 8,
              "provenance": provenance("nvcodec demo")}
    (out / "demo.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"nvcodec demo (bunny {i.width}x{i.height}, {i.frames} frames) -> {out / 'demo.nvc'}, {out / 'demo.mp4'}")
    print(f"  {DEFAULT_MODEL} at quality {enc.quality}, {enc.parameters} parameters, {enc.fit.epochs} epochs")
    print(f"  size      {enc.bytes} bytes = {enc.bpp:.4f} bpp")
    print(f"  PSNR-RGB  {psnr:.2f} dB ({enc.psnr_float:.2f} dB with the float weights)")
    print(f"  encode    {enc.encode_s:.1f} s;  decode to mp4 {dec.seconds:.2f} s; rendering {report['render_fps']:.0f} fps")
    print(f"  x264 (medium, 1 thread) at {enc.bpp:.4f} bpp: "
          + (f"{x264:.2f} dB PSNR-RGB" if x264 == x264 else "outside its CRF 18..51 range"))
    print(f"  picture   {out / 'demo.png'}: frame {k}, source | nvcodec | x264 CRF {crf} ({x264_bpp:.4f} bpp), "
          "zoomed below")
    print(f"  report    {out / 'demo.json'}")
    return report
