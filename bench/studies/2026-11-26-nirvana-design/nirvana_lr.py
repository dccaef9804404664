"""NIRVANA's learning rate: the first group of bikes (3 frames, 320x136) fitted alone for a few
seconds at several peak learning rates, --quality 24, one run each, interleaved in this order.

    python bench/studies/2026-11-26-nirvana-design/nirvana_lr.py [--seconds 5]  ->  bench/studies/2026-11-26-nirvana-design/bikes/nirvana-lr.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RATES = (5e-3, 1.5e-2, 3e-2, 5e-2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    from nvcodec.training.encoder import encode_video
    from nvcodec.training.fit import FitConfig
    from nvcodec.io import read_video

    video = read_video("bikes", frames=(0, 3), size=(320, 136))
    out = {}
    for lr in RATES:
        r = encode_video(video, ROOT / "bench" / ".nirvana-lr.nvc", model="nirvana", quality=24,
                         fit_config=FitConfig(time_budget=args.seconds, lr=lr, quiet=True))
        out[f"{lr:g}"] = {"psnr_rgb": round(r.psnr, 3), "bpp": round(r.bpp, 4), "steps": r.fit.stages[0]["steps"]}
        print(f"lr {lr:g}: {out[f'{lr:g}']}", flush=True)
    (ROOT / "bench" / ".nirvana-lr.nvc").unlink(missing_ok=True)
    path = Path(__file__).resolve().parent / "bikes" / "nirvana-lr.json"
    path.write_text(json.dumps({"frames": "0:3", "size": "320x136", "seconds": args.seconds, "runs": out}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
