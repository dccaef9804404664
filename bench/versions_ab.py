"""Two versions of nvcodec on the same rate-control points, interleaved: what a change bought
at equal wall time, free of this machine's drift between runs hours apart.

    python bench/versions_ab.py --old 245d51d [--new HEAD] [--clip bikes] [--rates 0.025,0.05,0.1,0.2,0.4]
                                [--budget 120] [-o bench/results/<clip>/versions-ab.json]

Each version is checked out in a temporary git worktree; for every rate the old version and
then the new one run ``python -m nvcodec encode CLIP --target-bpp R --time-budget S --json``
(fresh processes, nothing else running). The PSNR-RGB is the encoder's score of the frames
rendered from the quantized file's values (what the decoder renders). The JSON keeps every
point and the BD-rate (PSNR-RGB, PCHIP) of the new curve against the old.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from nvcodec.metrics import bd_rate, overlap
from nvcodec.rd.provenance import provenance
from nvcodec.rd.runner import DEFAULT_SIZES


@contextlib.contextmanager
def checked_out(repo: Path, refs: dict[str, str]) -> Iterator[dict[str, tuple[str, Path]]]:
    """Each ref (name -> git revision) checked out in a temporary worktree: name -> (short
    commit, its tree), removed again on the way out. Run a version's code with PYTHONPATH=tree."""
    with tempfile.TemporaryDirectory() as tmp:
        out: dict[str, tuple[str, Path]] = {}
        try:
            for name, ref in refs.items():
                rev = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", ref],
                                     capture_output=True, text=True, check=True).stdout.strip()
                tree = Path(tmp) / name
                subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
                out[name] = (rev, tree)
            yield out
        finally:
            for _, tree in out.values():
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=False)


def encode(clip: str, size: str, budget: float, out: Path, *knobs: str, tree: Path | None = None) -> dict:
    """``nvcodec encode CLIP --size SIZE KNOBS... --time-budget S --json`` in a fresh process (the
    code of ``tree`` where given): its bpp, PSNR-RGB of the decoded file, epochs and parameters."""
    env = {**os.environ, "PYTHONPATH": str(tree)} if tree is not None else None
    command = [sys.executable, "-m", "nvcodec", "encode", clip, "--size", size, *knobs,
               "--time-budget", f"{budget:g}", "--json", "--quiet", "-o", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    r = json.loads(done.stdout)
    return {k: r[k] for k in ("bpp", "psnr_rgb", "epochs", "parameters")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--clip", default="bikes")
    parser.add_argument("--rates", default="0.025,0.05,0.1,0.2,0.4")
    parser.add_argument("--budget", type=float, default=120)
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parent.parent
    width, height = DEFAULT_SIZES[args.clip]
    size = f"{width}x{height}"
    rates = [float(r) for r in args.rates.split(",")]
    points: dict[str, list] = {"old": [], "new": []}
    with checked_out(repo, {"old": args.old, "new": args.new}) as versions:
        revs = {which: rev for which, (rev, _) in versions.items()}
        for rate in rates:
            for which, (rev, tree) in versions.items():
                p = encode(args.clip, size, args.budget, tree.parent / f"{which}.nvc", "--target-bpp", str(rate),
                           tree=tree)
                points[which].append({"target_bpp": rate, **p})
                print(which, rev, p, flush=True)
    old, new = points["old"], points["new"]
    curve = lambda ps, k: [p[k] for p in ps]  # noqa: E731
    bd = bd_rate(curve(old, "bpp"), curve(old, "psnr_rgb"), curve(new, "bpp"), curve(new, "psnr_rgb"), "pchip")
    shared = overlap(curve(old, "psnr_rgb"), curve(new, "psnr_rgb"))
    print(f"{args.clip}: {revs['new']} vs {revs['old']}: BD-rate PSNR-RGB {bd:+.1f} % over {shared}")
    report = {"clip": args.clip, "size": size, "budget_s": args.budget, "old": revs["old"], "new": revs["new"],
              "points": points, "bd_rate_pchip_new_vs_old": bd, "overlap_db": list(shared) if shared else None,
              "provenance": provenance(" ".join(["python", "bench/versions_ab.py"] + sys.argv[1:]))}
    out = Path(args.output or repo / "bench" / "results" / args.clip / "versions-ab.json")
    out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
