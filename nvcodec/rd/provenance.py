"""Where a result came from: one record shared by every script that writes results.

    from nvcodec.rd.provenance import provenance
    report["meta"]["provenance"] = provenance("python bench/speed.py --epochs 30")

It names the git commit of the code that ran (and whether the tree had uncommitted changes),
the versions of the libraries that decide the numbers, the machine and the command.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

_REPO = Path(__file__).resolve().parents[2]  # the repository: nvcodec/rd/provenance.py


def git_commit() -> dict[str, Any]:
    """The commit of the checkout nvcodec runs from, or ``None`` outside a git checkout."""
    def git(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no", "--", "nvcodec", "bench", "setup.cfg")
    return {"commit": commit, "dirty": bool(status)}


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("nvcodec", "torch", "av", "constriction", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "?"
    return out


def machine() -> str:
    """CPU model, core count, torch's intra-op threads (and the GPU, if one is used)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU used"
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads, {gpu}"


def provenance(command: Optional[str] = None) -> dict[str, Any]:
    """The record: git commit, versions, machine, command (default: this process's argv), UTC time."""
    if command is None:
        command = " ".join([Path(sys.argv[0]).name if sys.argv[0].endswith("nvcodec") else "python " + sys.argv[0],
                            *sys.argv[1:]])
    return {**git_commit(), "versions": versions(), "machine": machine(), "command": command,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
