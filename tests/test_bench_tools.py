"""Smoke tests of the maintained tools in bench/ (bench/README.md): each answers --help, and the
cheap ones run for real on a tiny input. The studies under bench/studies/ are not run here."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ["speed", "encode_memory", "fuzz", "check_baseline_bytes", "versions_ab", "quality_sizes",
         "rate_aware_gain", "levers", "step_speed", "gpu_bunny", "grid_targets", "curves"]


def run(*args: str, cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.mark.parametrize("tool", TOOLS)
def test_tool_answers_help(tool):
    assert "usage" in run(str(ROOT / "bench" / f"{tool}.py"), "--help").stdout


def test_every_tool_is_listed():
    listed = (ROOT / "bench" / "README.md").read_text()
    for tool in TOOLS:
        assert f"`{tool}.py`" in listed, f"bench/README.md does not list {tool}.py"


def test_rate_aware_gain_on_the_committed_curves(tmp_path):
    for clip in ("bunny", "carphone", "bikes"):
        shutil.copytree(ROOT / "bench" / "results" / clip, tmp_path / clip, ignore=shutil.ignore_patterns("*.png", "*streams*"))
    run(str(ROOT / "bench" / "rate_aware_gain.py"), "--results", str(tmp_path))
    report = json.loads((tmp_path / "rate-aware-gain.json").read_text())
    assert report and "provenance" in json.dumps(report)


def test_check_baseline_bytes_one_point(tmp_path):
    """x264 medium at carphone's CRF 43, counted by FFmpeg's filter_units instead of nvcodec's parser."""
    curve = json.loads((ROOT / "bench" / "results" / "carphone" / "x264-medium.json").read_text())
    i = curve["results"]["crf"].index(43)
    curve["results"] = {k: [v[i]] for k, v in curve["results"].items()}
    (tmp_path / "carphone").mkdir()
    (tmp_path / "carphone" / "x264-medium.json").write_text(json.dumps(curve))
    run(str(ROOT / "bench" / "check_baseline_bytes.py"), "--curves", "x264-medium", "--results", str(tmp_path))
    assert json.loads((tmp_path / "carphone" / "baseline-bytes-check.json").read_text())["passed"]


def test_levers_tiny_run(tmp_path):
    out = tmp_path / "levers.json"
    run(str(ROOT / "bench" / "levers.py"), "--clip", "carphone", "--size", "176x144", "--params", "3000",
        "--budget", "2", "--levers", "base,kaiming", "-o", str(out))
    report = json.loads(out.read_text())
    assert report["command"].startswith("python bench/levers.py")


def test_grid_targets_tiny_run(tmp_path):
    out = tmp_path / "targets.json"
    run(str(ROOT / "bench" / "grid_targets.py"), "--epochs", "1", "--repeats", "1", "--params", "3000",
        "--size", "64x36", "--memory-epochs", "0", "--output", str(out))
    report = json.loads(out.read_text())
    assert set(report["results"]["fitting"]["ms_per_epoch"]) == {"nerv", "hinerv"}
    assert report["results"]["decoding"]["render_fps"] > 0 and report["results"]["memory"] is None
    assert report["meta"]["command"].startswith("python bench/grid_targets.py")


def test_curves_tiny_run(tmp_path):
    """Three encoders (a shape variant and a size variant given as JSON options), two runs, medians
    and BD-rows."""
    out = tmp_path / "curves.json"
    run(str(ROOT / "bench" / "curves.py"), "--clip", "carphone", "--frames", "0:3", "--rates", "0.3,0.6",
        "--budget", "1", "--runs", "2", "--encoder", "nerv", "nerv", "--encoder", "grown", "hinerv",
        '{"grow": [0.5, 0.5]}', "--encoder", "double", "nerv", '{"params_scale": 2}', "-o", str(out))
    report = json.loads(out.read_text())
    for full, double in zip(*(report["curves"][label]["results"]["parameters"] for label in ("nerv", "double"))):
        assert 1.6 * full < double < 2.4 * full
    assert report["encoders"]["grown"] == {"model": "hinerv", "options": {"grow": [0.5, 0.5]}}
    assert [len(run) for run in report["points"]["grown"]] == [2, 2]
    bpps = [[p["bpp"] for p in run] for run in report["points"]["grown"]]
    assert report["curves"]["grown"]["results"]["bpp"] == [sum(pair) / 2 for pair in zip(*bpps)]
    assert list(report["bd_rate_psnr_rgb"]) == ["grown vs nerv", "double vs nerv"]
    assert report["meta"]["command"].startswith("python bench/curves.py")
    rows = run(str(ROOT / "bench" / "curves.py"), "--table", str(out)).stdout.strip().splitlines()
    assert len(rows) == 2 + 2 and rows[2].startswith("| carphone-frames0-3 (`curves.json`) | 0.3 |")
