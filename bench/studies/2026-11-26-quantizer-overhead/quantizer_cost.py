"""What rate-aware fitting's quantizer costs per step, alone: RateModel.quantized_parameters
forward and backward for a NeRV of ~95k parameters (bikes' 320x136 config), without the network.

    python bench/studies/2026-11-26-quantizer-overhead/quantizer_cost.py [--label NAME] [-o bench/studies/2026-11-26-quantizer-overhead/quantizer-cost.json]

Times 5 blocks of 100 steps per mode (soft, hard) after 20 unmeasured ones and keeps the median
block; the "plain" row is the stand-in loss alone (a weighted sum of the parameters), to be
subtracted. To compare two versions of nvcodec, run it from each with PYTHONPATH pointing at
that version's tree; each run adds its row under ``--label`` to the JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import nvcodec
from nvcodec.models import model_class
from nvcodec.rd.provenance import provenance
from nvcodec.training.rate import RateModel, trained_stored_names
from nvcodec.resources import keep_freed_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default=None, help="name of this run's row (default: the commit)")
    parser.add_argument("-o", "--output", default=str(Path(__file__).resolve().parent / "quantizer-cost.json"))
    args = parser.parse_args()
    keep_freed_memory()
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    cls = model_class("nerv")
    net = cls(cls.configure(320, 136, 250, 95000)).to(memory_format=torch.channels_last)
    rate = RateModel(net, trained_stored_names(net))
    upstream = {n: torch.randn_like(p) for n, p in net.named_parameters()}

    def step(mode: str, k: int) -> None:
        if mode == "plain":
            sum((p * upstream[n]).sum() for n, p in net.named_parameters()).backward()
            return
        params, bits = rate.quantized_parameters(net, mode, 2.0, torch.Generator().manual_seed(k))
        (sum((params[n] * upstream[n]).sum() for n in params) + 1e-3 * bits).backward()

    row = {}
    for mode in ("soft", "hard", "plain"):
        for k in range(20):
            step(mode, k)
        blocks = []
        for _ in range(5):
            began = time.perf_counter()
            for k in range(100):
                step(mode, k)
            blocks.append((time.perf_counter() - began) * 10)  # ms a step
        row[f"{mode}_ms"] = round(statistics.median(blocks), 3)
    for mode in ("soft", "hard"):
        row[f"{mode}_quantizer_ms"] = round(row[f"{mode}_ms"] - row["plain_ms"], 3)
    code = str(Path(nvcodec.__file__).parent.parent)
    commit = subprocess.run(["git", "-C", code, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    row.update({"nvcodec": code, "commit": commit, "parameters": sum(rate.sizes),
                "command": " ".join(["python", "bench/studies/2026-11-26-quantizer-overhead/quantizer_cost.py"] + sys.argv[1:])})
    print(json.dumps(row))
    path = Path(args.output)
    report = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    report["runs"][args.label or commit] = row
    report["provenance"] = provenance()
    path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
