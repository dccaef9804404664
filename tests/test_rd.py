"""The RD benchmark: baseline points measured on real streams, the results files' shape,
resuming, BD-rate tables and the command line."""
from __future__ import annotations

import hashlib
import json
import math

import av
import numpy as np
import pytest

from nvcodec.rd import runner as rd
from nvcodec.cli import main
from nvcodec.bitstream.decoder import decode_frames
from nvcodec.errors import InputError
from nvcodec.io import read_video, write_video, yuv420_to_rgb
from nvcodec.metrics import psnr_rgb

from conftest import make_video

RESULT_KEYS = {"bpp", "bytes", "psnr-rgb", "psnr-yuv", "psnr-y", "psnr-u", "psnr-v", "ms-ssim-rgb", "encode_s", "decode_s"}


@pytest.fixture(scope="module")
def tiny_yuv_video(tiny_clip):
    return read_video(tiny_clip, keep_yuv=True)


@pytest.fixture(scope="module")
def small_yuv_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "small.mp4"
    video = make_video(64, 64, 4)
    write_video(path, video.frames, video.info, lossless=True)
    return read_video(path, keep_yuv=True)


@pytest.mark.parametrize("codec", ["x264", "x265"])
def test_baseline_point_bytes_are_the_stream_written(tmp_path, tiny_yuv_video, small_yuv_video, codec):
    video = tiny_yuv_video if codec == "x264" else small_yuv_video  # libx265 crashes on 40x24
    stream = tmp_path / f"tiny.{codec}"
    point = rd.baseline_rd_point(video, codec, 30, stream)
    info = video.info
    assert point["bytes"] == stream.stat().st_size > 0
    assert point["bpp"] == pytest.approx(8 * point["bytes"] / (info.frames * info.width * info.height))
    # the stream on disk decodes, on its own, to every frame at the PSNR the point reports
    with av.open(str(stream), format={"x264": "h264", "x265": "hevc"}[codec]) as container:
        frames = [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    assert len(frames) == info.frames
    h, w = info.height, info.width
    n = (h // 2) * (w // 2)  # yuv420p as one array: Y rows, then U, then V
    rgb = np.stack([yuv420_to_rgb(f[:h], f[h:].reshape(-1)[:n].reshape(h // 2, w // 2),
                                  f[h:].reshape(-1)[n:].reshape(h // 2, w // 2), info.matrix, info.range) for f in frames])
    assert point["psnr-rgb"] == pytest.approx(psnr_rgb(rgb, video.frames), abs=1e-6)
    assert point["ms-ssim-rgb"] is None  # too small for five scales
    assert 15 < point["psnr-yuv"] < 60


def test_x265_refuses_sizes_that_crash_it(tiny_yuv_video):
    with pytest.raises(InputError, match="40x24 is too small"):
        rd.baseline_rd_point(tiny_yuv_video, "x265", 30)


def test_lower_crf_costs_more_bytes_and_gives_more_quality(tiny_yuv_video):
    hi, lo = rd.baseline_rd_point(tiny_yuv_video, "x264", 20), rd.baseline_rd_point(tiny_yuv_video, "x264", 40)
    assert hi["bytes"] > lo["bytes"] and hi["psnr-rgb"] > lo["psnr-rgb"]


def _run(tiny_clip, out, **kw):
    options = dict(models=["nerv"], baselines=["x264"], budget=1.0, rates=[10.0, 20.0], crfs=[25, 35], out=out,
                   command="test", quiet=True, bits=8)
    options.update(kw)
    rd.run_benchmark([rd.Clip.parse(tiny_clip)], **options)


def test_results_files_have_compressai_shape_and_resume(tmp_path, tiny_clip, monkeypatch):
    out = tmp_path / "results"
    _run(tiny_clip, out)
    clip_dir = out / "tiny"
    assert sorted(p.name for p in clip_dir.glob("*.json")) == ["nvcodec-nerv-1s.json", "x264-medium.json"]
    for name in ("nvcodec-nerv-1s.json", "x264-medium.json"):
        data = json.loads((clip_dir / name).read_text())
        assert set(data) == {"name", "description", "results", "meta"}
        results = data["results"]
        assert RESULT_KEYS <= set(results)
        assert len({len(v) for v in results.values()}) == 1 and len(results["bpp"]) == 2
        assert results["bpp"] == sorted(results["bpp"])
        assert {"provenance", "budget", "setup"} <= set(data["meta"])
        prov = data["meta"]["provenance"]
        assert {"commit", "dirty", "versions", "machine", "command", "date"} <= set(prov)
        assert prov["command"] == "test" and {"torch", "av", "constriction", "numpy"} <= set(prov["versions"])
        assert all(c is not None for c in results["commit"])
        # every point names the reference frames it was scored against
        want = hashlib.sha256(read_video(tiny_clip).frames.tobytes()).hexdigest()
        assert results["reference-sha256"] == [want, want]
    ours = json.loads((clip_dir / "nvcodec-nerv-1s.json").read_text())
    assert ours["meta"]["budget"] == "1 s wall time per point"
    assert "too small for MS-SSIM" in ours["meta"]["notes"][0]
    assert ours["results"]["target-bpp"] == [10.0, 20.0] and all(e >= 1 for e in ours["results"]["epochs"])
    assert ours["results"]["parameters"][1] > 1.5 * ours["results"]["parameters"][0]
    # sizes are those of the files written, and the standalone decoder's frames score what the file says
    for rate, size, psnr in zip(ours["results"]["target-bpp"], ours["results"]["bytes"], ours["results"]["psnr-rgb"]):
        stream = clip_dir / "streams" / f"nerv-1s-{rate:g}.nvc"
        assert stream.stat().st_size == size
        assert psnr_rgb(decode_frames(stream), read_video(tiny_clip).frames) == pytest.approx(psnr, abs=1e-9)
    assert (out / "bd-rate.md").exists()
    assert (clip_dir / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a rerun finds every point done and runs nothing
    def fail(*a, **k):
        raise AssertionError("a finished point was run again")

    monkeypatch.setattr(rd, "nvcodec_rd_point", fail)
    monkeypatch.setattr(rd, "baseline_rd_point", fail)
    _run(tiny_clip, out)
    # a new point on the same setup runs just that point
    monkeypatch.undo()
    _run(tiny_clip, out, crfs=[25, 35, 45], models=[])
    assert json.loads((clip_dir / "x264-medium.json").read_text())["results"]["crf"] == [45, 35, 25]
    # another budget is another curve beside the first, not mixed into it
    _run(tiny_clip, out, budget=0.5, rates=[10.0], baselines=[])
    assert json.loads((clip_dir / "nvcodec-nerv-0.5s.json").read_text())["results"]["target-bpp"] == [10.0]
    assert json.loads((clip_dir / "nvcodec-nerv-1s.json").read_text())["results"]["target-bpp"] == [10.0, 20.0]
    # another bit depth is another setup: a file edited to claim one is replaced, not mixed
    path = clip_dir / "nvcodec-nerv-0.5s.json"
    data = json.loads(path.read_text())
    data["meta"]["setup"]["bits"] = 6
    path.write_text(json.dumps(data))
    _run(tiny_clip, out, budget=0.5, rates=[20.0], baselines=[])
    assert json.loads(path.read_text())["results"]["target-bpp"] == [20.0]


def test_rate_aware_curve_runs_a_quality_ladder(tmp_path, tiny_clip):
    out = tmp_path / "results"
    _run(tiny_clip, out, bits=None, qualities=[6, 45], baselines=[])
    data = json.loads((out / "tiny" / "nvcodec-nerv-rd-1s.json").read_text())
    r = data["results"]
    assert data["meta"]["setup"]["method"] == "rate-aware"
    assert sorted(r["quality"]) == [6, 45]
    assert r["bytes"][r["quality"].index(6)] > r["bytes"][r["quality"].index(45)]  # lower N, more bits
    assert all(c > 0 and e > 0 for c, e in zip(r["coded-value-bytes"], r["estimated-value-bytes"]))


def test_the_default_curve_is_rate_control_over_target_rates(tmp_path, tiny_clip):
    out = tmp_path / "results"
    _run(tiny_clip, out, bits=None, rates=[1.0, 4.0], baselines=[])
    data = json.loads((out / "tiny" / "nvcodec-nerv-rc-1s.json").read_text())
    r = data["results"]
    assert data["meta"]["setup"]["method"] == "rate-aware, rate control"
    assert r["target-bpp"] == [1.0, 4.0]  # sorted by the rate reached
    assert r["bpp"][0] < r["bpp"][1]


def _curve(name, bpp, psnr, budget="60 s wall time per point"):
    name = name if name.startswith("x26") else f"nvcodec {name}, 60 s"
    return {"name": name, "description": "", "results": {"bpp": bpp, "psnr-rgb": psnr, "psnr-yuv": psnr},
            "meta": {"budget": budget, "setup": {"size": [40, 24], "frames": 6}}}


def test_bd_table_halved_rate_and_no_overlap(tmp_path):
    bpp, psnr = [0.02, 0.05, 0.1, 0.2], [27.0, 30.5, 33.0, 35.8]
    clip = tmp_path / "clip"
    clip.mkdir()
    for name, curve in {"x264-medium": _curve("x264", bpp, psnr),
                        "nvcodec-half": _curve("half", [b / 2 for b in bpp], psnr),
                        "nvcodec-far": _curve("far", bpp, [p - 20 for p in psnr])}.items():
        (clip / f"{name}.json").write_text(json.dumps(curve))
    rows = {r["curve"]: r for r in rd.bd_rates(rd.load_curves(clip))}
    assert rows["nvcodec-half"]["x264-medium"]["pchip"] == pytest.approx(-50, abs=1e-6)
    assert rows["nvcodec-half"]["x264-medium"]["cubic"] == pytest.approx(-50, abs=1e-6)
    assert math.isnan(rows["nvcodec-far"]["x264-medium"]["pchip"])
    (clip / "nvcodec-bent.json").write_text(json.dumps(_curve("bent", bpp, [27.0, 31.0, 30.0, 35.8])))
    table = rd.write_bd_table(tmp_path).read_text()
    assert "| clip 40x24 | half | 60 s | -50.0% / -50.0% (27.0–35.8) | x264-medium | -50.0% / -50.0% (27.0–35.8) |" in table
    assert "| clip 40x24 | far | 60 s | x264-medium | no overlap |" in table
    assert "| clip 40x24 | bent | 60 s | x264-medium | n/a: a curve is not monotone |" in table
    # the latent-grid probe's curve is one of ours, measured against the baselines, never one of them
    probe = _curve("probe", [b / 4 for b in bpp], psnr)
    probe["meta"]["setup"]["time_stride"] = 4
    (clip / "latent-probe-60s.json").write_text(json.dumps(probe))
    rows = {r["curve"]: r for r in rd.bd_rates(rd.load_curves(clip))}
    assert set(rows["nvcodec-half"]) == {"curve", "model", "budget", "x264-medium"}
    assert rows["latent-probe-60s"]["x264-medium"]["pchip"] == pytest.approx(-75, abs=1e-6)
    assert rows["latent-probe-60s"]["model"] == "latent-grid probe (time stride 4)"


def test_bd_table_sets_each_model_against_nerv_made_the_same_way(tmp_path):
    bpp, psnr = [0.02, 0.05, 0.1, 0.2], [27.0, 30.5, 33.0, 35.8]
    clip = tmp_path / "clip"
    clip.mkdir()

    def ours(model, scale, budget_s=60):
        c = _curve(model, [b * scale for b in bpp], psnr, f"{budget_s} s wall time per point")
        c["meta"]["setup"].update({"model": model, "method": "rate-aware, rate control", "budget_s": budget_s})
        return c
    for name, curve in {"x264-medium": _curve("x264", bpp, psnr),
                        "nvcodec-nerv-rc-60s": ours("nerv", 1.0), "nvcodec-hinerv-rc-60s": ours("hinerv", 0.75),
                        "nvcodec-hinerv-rc-600s": ours("hinerv", 0.5, 600),  # no NeRV at 600 s: no row
                        "nvcodec-nerv-rc-600s-old": ours("nerv", 2.0, 600)}.items():
        (clip / f"{name}.json").write_text(json.dumps(curve))
    rows = rd.bd_rates_against_nerv(rd.load_curves(clip))
    assert [r["curve"] for r in rows] == ["nvcodec-hinerv-rc-60s"]
    assert rows[0]["nerv"]["pchip"] == pytest.approx(-25, abs=1e-6)
    table = rd.write_bd_table(tmp_path).read_text()
    assert "| clip 40x24 | hinerv rate control | 60 s | -25.0% / -25.0% (27.0–35.8) |" in table


def test_strongest_baseline_is_the_one_needing_fewest_bits(tmp_path):
    bpp, psnr = [0.02, 0.05, 0.1, 0.2], [27.0, 30.5, 33.0, 35.8]
    clip = tmp_path / "clip"
    clip.mkdir()
    for name, curve in {"x264-medium": _curve("x264", bpp, psnr),
                        "x265-medium": _curve("x265", [b * 0.8 for b in bpp], psnr),
                        "x264-veryslow-psnr": _curve("x264 vs", [b * 0.7 for b in bpp], psnr),
                        "x265-medium-psnr": _curve("x265 p", [b * 1.1 for b in bpp], psnr),
                        "nvcodec-half": _curve("half", [b * 0.35 for b in bpp], psnr)}.items():
        (clip / f"{name}.json").write_text(json.dumps(curve))
    curves = rd.load_curves(clip)
    assert rd.strongest_baseline(curves) == "x264-veryslow-psnr"
    table = rd.write_bd_table(tmp_path).read_text()
    assert "| clip 40x24 | half | 60 s | -65.0% / -65.0% (27.0–35.8) | x264-veryslow-psnr | -50.0% / -50.0% (27.0–35.8) |" in table
    assert "| clip 40x24 | x265-medium | -20.0% / -20.0% (27.0–35.8) |" in table


def test_clip_labels_keep_other_sizes_and_ranges_apart():
    assert rd.Clip.parse("bunny") == rd.Clip("bunny", "bunny", (320, 180))
    assert rd.Clip.parse("bunny@640x360").label == "bunny-640x360"
    assert rd.Clip.parse("carphone", (0, 30)).label == "carphone-frames0-30"
    assert rd.Clip.parse("/data/clip.y4m").label == "clip"


def test_cli_bench_bad_input_is_one_line(tmp_path, capsys):
    assert main(["bench", "--clips", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.mp4" in err[0]
    assert main(["bench", "--rates", "0.1,abc", "-o", str(tmp_path / "r"), "--quiet"]) == 2
    assert "--rates" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main(["bench", "--report-only", "-o", str(tmp_path / "r")]) == 2
    assert "no such results folder" in capsys.readouterr().err


def test_a_damaged_results_file_is_named_and_kept(tmp_path, tiny_clip):
    clip_dir = tmp_path / "tiny"
    clip_dir.mkdir()
    (clip_dir / "x264-medium.json").write_text("{not json")
    with pytest.raises(InputError, match="x264-medium.json: not a results file"):
        _run(tiny_clip, tmp_path, models=[])
    assert (clip_dir / "x264-medium.json").read_text() == "{not json"
