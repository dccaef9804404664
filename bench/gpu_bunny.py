"""The GPU check of issue 12 (item 5): the full 1280x720 Bunny (132 frames) encoded on CUDA at
NeRV-S size (3.2M parameters) for 300 epochs, against the NeRV paper's 32.2 dB at 300 epochs.

    python bench/gpu_bunny.py [--clip bunny] [--epochs 300] [--limit 480] [-o bench/results/gpu-bunny.json]

Run on a machine with a CUDA GPU, in one go (it writes its JSON after every part, so a run cut
short still reports what it did):

1. precision: bf16 autocast vs float32 (TF32 convolutions), our NeRV at 3.2M, the same few epochs
   each, interleaved: ms per epoch and PSNR-RGB; the faster of the two, unless it loses more
   than 0.2 dB, fits the rest;
2. NeRV at 3.2M as nvcodec shapes it (most parameters in the MLP, narrow convolutions, ~4 GFLOP
   a frame) and as the paper shapes it (every block as wide: ``min_channels`` 96, ~106 GFLOP
   a frame), each fitted in float for ``--epochs`` epochs (or its share of ``--limit``), then
   quantized to 8 bits (the paper's figure is the float model's): epochs per second, peak GPU
   memory, PSNR-RGB before and after quantization, the file's size; the file decoded by the
   standalone decoder on the CPU (frames per second and PSNR of those frames) and rendered on
   the GPU (frames per second);
3. the default rate-aware path (quality 24) on CUDA at 320x180 for a few epochs: that it runs
   there, with its estimated vs coded bits.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nvcodec.bitstream.decoder import decode_frames, load_bitstream, render
from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig, fit
from nvcodec.io import read_video, resize_rgb, Video
from nvcodec.metrics import frame_psnr
from nvcodec.models import model_class

PAPER_PSNR_300 = 32.2  # NeRV-S, Bunny 1280x720, 300 epochs (NeRV, NeurIPS 2021, Table 1)
PARAMS = 3_200_000
SHAPES = {"nvcodec": {}, "paper-wide": {"min_channels": 96}}


def synced() -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def precision_probe(video: Video, epochs: int, device: str, options: dict) -> dict:
    runs: dict[str, list] = {"bf16": [], "fp32": []}
    for _ in range(2):
        for name in ("bf16", "fp32"):  # interleaved
            cls = model_class("nerv")
            torch.manual_seed(0)
            net = cls(cls.configure(video.info.width, video.info.height, video.info.frames, PARAMS, **options))
            r = fit(net, video.frames, FitConfig(epochs=epochs, device=device, bf16=name == "bf16", quiet=True))
            # the first epoch holds cuDNN's algorithm search: time the others
            later = r.history[-1]["seconds"] - r.history[0]["seconds"]
            runs[name].append({"ms_per_epoch": round(1000 * later / max(r.epochs - 1, 1), 1),
                               "first_epoch_s": r.history[0]["seconds"], "psnr_rgb": round(r.psnr, 3)})
            print(f"precision {name}: {runs[name][-1]}", flush=True)
    return {k: {"ms_per_epoch": statistics.median(x["ms_per_epoch"] for x in v),
                "psnr_rgb": statistics.median(x["psnr_rgb"] for x in v), "runs": v} for k, v in runs.items()}


@torch.no_grad()
def gpu_render_fps(path: str, device: str) -> float:
    stream = load_bitstream(path)
    model = stream.model.to(device)
    indices = list(range(stream.info.frames))
    list(render(model, stream.info, indices[:2]))  # warm-up
    began = synced()
    n = sum(len(b) for b in render(model, stream.info, indices))
    return n / (synced() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="bunny")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--probe-epochs", type=int, default=8)
    parser.add_argument("--limit", type=float, default=480, help="seconds for the whole script (the fits share it)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision-shape", choices=sorted(SHAPES), default="nvcodec",
                        help="the shape the precision probe times (default nvcodec)")
    parser.add_argument("--only-precision", action="store_true", help="run part 1 only")
    parser.add_argument("-o", "--output", default=str(Path(__file__).parent / "results" / "gpu-bunny.json"))
    args = parser.parse_args()
    began = time.perf_counter()
    report: dict = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]), "clip": args.clip,
                    "paper_psnr_rgb_300_epochs": PAPER_PSNR_300, "parameters": PARAMS,
                    "torch": torch.__version__, "python": platform.python_version(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "cpu_threads": torch.get_num_threads()}

    def save() -> None:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")

    video = read_video(args.clip)
    info = video.info
    report["video"] = {"width": info.width, "height": info.height, "frames": info.frames}
    print(report, flush=True)

    report["precision"] = precision_probe(video, args.probe_epochs, args.device, SHAPES[args.precision_shape])
    report["precision"]["shape"] = args.precision_shape
    p = report["precision"]
    bf16 = p["bf16"]["ms_per_epoch"] <= p["fp32"]["ms_per_epoch"] and p["bf16"]["psnr_rgb"] >= p["fp32"]["psnr_rgb"] - 0.2
    report["bf16_chosen"] = bf16
    save()
    if args.only_precision:
        return

    report["runs"] = {}
    tmp = tempfile.mkdtemp()
    for i, (shape, options) in enumerate(SHAPES.items()):
        left = args.limit - (time.perf_counter() - began) - 60 * (len(SHAPES) - i)  # a minute each for scoring
        budget = max(left / (len(SHAPES) - i), 20.0)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        path = os.path.join(tmp, f"{shape}.nvc")
        cfg = FitConfig(epochs=args.epochs, time_budget=budget, device=args.device, bf16=bf16, quiet=True)
        t0 = time.perf_counter()
        r = encode_video(video, path, model="nerv", params=PARAMS, bits=8, fit_config=cfg, model_options=options)
        run = {"model_options": options, "config": load_bitstream(path).model.config,
               "parameters": r.parameters, "epochs": r.fit.epochs, "fit_s": round(r.fit.seconds, 1),
               "epochs_per_s": round(r.fit.epochs / r.fit.seconds, 3),
               "s_per_300_epochs": round(300 * r.fit.seconds / r.fit.epochs, 1),
               "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
               "psnr_rgb_before_quantization": round(r.psnr_float, 3), "psnr_rgb_8bit": round(r.psnr, 3),
               "bytes": r.bytes, "bpp": round(r.bpp, 4), "encode_s": round(time.perf_counter() - t0, 1),
               "psnr_history": [(h["epoch"], h["psnr"]) for h in r.fit.history[:: max(1, len(r.fit.history) // 30)]]}
        report["runs"][shape] = run
        save()
        print(shape, run, flush=True)
        run["gpu_render_fps"] = round(gpu_render_fps(path, args.device), 1)
        n = info.frames if shape == "nvcodec" else 24  # the wide model renders slowly on a CPU
        t0 = time.perf_counter()
        frames = decode_frames(path, (0, n))
        run["cpu_decode"] = {"frames": n, "fps": round(n / (time.perf_counter() - t0), 2),
                             "psnr_rgb": round(float(np.mean(frame_psnr(frames, video.frames[:n]))), 3)}
        save()
        print(shape, "decode", run["gpu_render_fps"], run["cpu_decode"], flush=True)

    # the default path (rate-aware, quality 24) on CUDA, small and short: it runs there
    small = Video(np.stack([resize_rgb(f, (320, 180)) for f in video.frames]), type(info)(320, 180, info.frames, info.fps, info.matrix, info.range))
    path = os.path.join(tmp, "q24.nvc")
    r = encode_video(small, path, quality=24, fit_config=FitConfig(epochs=40, device=args.device, quiet=True))
    report["rate_aware_320x180"] = {"quality": 24, "epochs": r.fit.epochs, "fit_s": round(r.fit.seconds, 1),
                                    "psnr_rgb": round(r.psnr, 3), "bpp": round(r.bpp, 4),
                                    "estimated_bits": round(r.estimated_bits), "coded_bits": r.coded_bits}
    report["seconds"] = round(time.perf_counter() - began, 1)
    save()
    print(report["rate_aware_320x180"], flush=True)


if __name__ == "__main__":
    main()
