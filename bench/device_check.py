"""The device check of issue 24: does a file encoded on CUDA decode to the same frames on CUDA and
on the CPU, and to the PSNR the encoder reported?

    python bench/device_check.py [--clip bikes] [--size 320x136] [--budget 60] [--models nerv,nirvana]
                                 [-o bench/results/device-check.json]

On a machine with a CUDA GPU (a few minutes): for each model, encode the clip on CUDA (rate
control at --target-bpp, --budget seconds), then

1. the positional features of every frame (NeRV: the frame index's; NIRVANA: the patch centres')
   as the model computes them on CUDA and on the CPU, compared bit for bit;
2. the file decoded by the standalone decoder on the CPU and rendered from the same file on CUDA
   (float32, TF32 off): frames compared bit for bit (how many frames and values differ, the
   largest difference in levels);
3. the PSNR-RGB the encoder reported (taken from the bytes, on the CPU) against the PSNR of the
   CPU decode and of the CUDA render.

Without CUDA it runs the same on the CPU alone (a smoke run: both sides are the CPU), and says so.
The files are kept beside the JSON (``<json>.files/``) so that another machine can decode them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nvcodec.bitstream.decoder import decode_frames, load_bitstream, render
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import parse_size, read_video
from nvcodec.metrics import frames_sha256, psnr_rgb
from nvcodec.training.parallel import Processes
from nvcodec.rd.provenance import provenance


def features(model, device: str) -> torch.Tensor:
    """The model's positional features, computed with the model on ``device``, brought to the CPU."""
    model = model.to(device)
    if hasattr(model, "encode_index"):
        index = torch.arange(model.config["frames"], device=device)
        return model.encode_index(index).cpu()
    if hasattr(model, "patch_features"):
        return model.patch_features(torch.device(device)).cpu()
    return torch.zeros(0)


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return {"frames_differing": int((diff.reshape(len(diff), -1).max(1) > 0).sum()),
            "values_differing": int((diff > 0).sum()), "max_levels": int(diff.max()) if diff.size else 0,
            "identical": bool(not diff.any())}


def check(video, model: str, device: str, target: float, budget: float, out_dir: Path) -> dict:
    path = out_dir / f"{model}.nvc"
    began = time.perf_counter()
    enc = encode_video(video, path, model=model, target_bpp=target,
                       fit_config=FitConfig(time_budget=budget, device=device, quiet=True), processes=Processes())
    encode_s = time.perf_counter() - began
    cpu = decode_frames(path)
    stream = load_bitstream(path)
    with torch.no_grad(), torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True,
                                                     allow_tf32=False):
        torch.backends.cuda.matmul.allow_tf32 = False
        gpu = np.concatenate(list(render(stream.model.to(device), stream.info, list(range(stream.info.frames)))))
        f_gpu = features(stream.model, device)
    f_cpu = features(stream.model, "cpu")
    return {"model": model, "file": str(path), "bytes": enc.bytes, "bpp": round(enc.bpp, 5), "epochs": enc.fit.epochs,
            "encode_s": round(encode_s, 1), "exact_pe": stream.model.config.get("exact_pe", 0),
            "features": {"identical": bool(torch.equal(f_cpu, f_gpu)),
                         "max_abs_difference": float((f_cpu - f_gpu).abs().max()) if f_cpu.numel() else 0.0},
            "frames_cpu_vs_device": compare(cpu, gpu),
            "psnr_rgb": {"encoder_reported": round(enc.psnr, 4), "cpu_decode": round(psnr_rgb(cpu, video.frames), 4),
                         "device_render": round(psnr_rgb(gpu, video.frames), 4),
                         "float_weights_on_device": None if enc.psnr_float is None else round(enc.psnr_float, 4)},
            "reference_sha256": enc.reference_sha256}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bikes")
    ap.add_argument("--size", default="320x136")
    ap.add_argument("--frames", type=int, default=None, help="the first N frames only (a smoke run)")
    ap.add_argument("--models", default="nerv,nirvana")
    ap.add_argument("--target-bpp", type=float, default=0.2)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of fitting per encode")
    ap.add_argument("-o", "--output", default="bench/results/device-check.json")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(args.output)
    files = out.with_name(out.name + ".files")
    files.mkdir(parents=True, exist_ok=True)
    video = read_video(args.clip, size=parse_size(args.size), frames=(0, args.frames) if args.frames else None)
    report = {"clip": args.clip, "size": args.size, "frames": video.info.frames, "device": device,
              "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu (no CUDA: a smoke run)",
              "target_bpp": args.target_bpp, "budget_s": args.budget, "reference_sha256": frames_sha256(video.frames),
              "checks": [], "provenance": provenance(" ".join(["python", *sys.argv]))}
    for model in args.models.split(","):
        report["checks"].append(check(video, model, device, args.target_bpp, args.budget, files))
        out.write_text(json.dumps(report, indent=1) + "\n")  # after every model: a run cut short still reports
        print(json.dumps(report["checks"][-1]), file=sys.stderr)


if __name__ == "__main__":
    main()
