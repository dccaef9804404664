"""The nvcodec command end to end, and every bad input: one line, exit code 2, nothing half-written."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nvcodec.cli import main, parse_count, parse_duration
from nvcodec.bitstream.decoder import load_bitstream
from nvcodec.errors import InputError
from nvcodec.io import read_video

TINY = ["--epochs", "2", "--params", "3k", "--quiet"]


def run_cli(*args: str):
    return subprocess.run([sys.executable, "-m", "nvcodec", *args], capture_output=True, text=True, timeout=300)


def test_encode_decode_info_end_to_end(tmp_path, tiny_clip, capsys):
    nvc, mp4, y4m, pngs = tmp_path / "t.nvc", tmp_path / "t.mp4", tmp_path / "t.y4m", tmp_path / "frames"
    assert main(["encode", tiny_clip, "-o", str(nvc), *TINY]) == 0
    assert not Path(f"{nvc}.ckpt").exists()  # a finished encode leaves no checkpoint behind
    assert main(["decode", str(nvc), "-o", str(mp4), "--quiet"]) == 0
    assert main(["decode", str(nvc), "-o", str(y4m), "--frames", "1:4", "--quiet"]) == 0
    assert main(["decode", str(nvc), "-o", str(pngs), "--quiet"]) == 0
    assert read_video(mp4).frames.shape == (6, 24, 40, 3)
    assert read_video(y4m).frames.shape == (3, 24, 40, 3)
    assert len(list(pngs.glob("*.png"))) == 6
    capsys.readouterr()
    assert main(["info", str(nvc)]) == 0
    out = capsys.readouterr().out
    assert f"{nvc.stat().st_size} bytes" in out
    assert "overhead" in out and "nerv" in out


def test_info_json_bits_per_parameter(tiny_nvc, capsys):
    path, _ = tiny_nvc
    assert main(["info", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    tensors = report["tensors"].values()
    assert sum(t["values"] for t in tensors) == report["parameters"]
    total_bits = 8 * sum(t["bytes"] for t in tensors)
    assert report["bits_per_parameter"] == pytest.approx(total_bits / report["parameters"])
    assert all(t["bits_per_value"] == pytest.approx(8 * t["bytes"] / t["values"]) for t in tensors)
    # the estimate (each tensor's Laplace) is close to what the coder spent on the values
    assert report["estimated_bits"] == pytest.approx(sum(t["estimated_bits"] for t in tensors), abs=1)
    assert report["estimated_bits"] == pytest.approx(8 * report["coded_bytes"], rel=0.1)


def test_info_sections_add_up(tiny_nvc):
    path, _ = tiny_nvc
    s = load_bitstream(path)
    assert sum(s.container.section_sizes.values()) + 5 == os.path.getsize(path)
    assert sum(s.tensor_bytes.values()) < s.container.section_sizes["TENS"]
    assert 0 < sum(s.coded_bytes.values()) < sum(s.tensor_bytes.values())
    assert all(s.coded_bytes[k] <= s.tensor_bytes[k] for k in s.tensor_bytes)


@pytest.mark.parametrize("case", ["missing", "not_video", "no_frames", "empty_folder"])
def test_bad_encode_inputs(tmp_path, case):
    out = tmp_path / "out.nvc"
    source = {"missing": tmp_path / "nope.mp4", "not_video": tmp_path / "notes.mp4",
              "no_frames": tmp_path / "empty.mp4", "empty_folder": tmp_path / "folder"}[case]
    if case == "not_video":
        source.write_text("this is not a video\n" * 20)
    elif case == "no_frames":
        import av
        with av.open(str(source), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
    elif case == "empty_folder":
        source.mkdir()
    r = run_cli("encode", str(source), "-o", str(out), *TINY)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nvcodec: error: ") and str(source) in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_bad_outputs(tmp_path, tiny_clip, tiny_nvc):
    path, _ = tiny_nvc
    for args in (["encode", tiny_clip, "-o", str(tmp_path / "missing" / "o.nvc"), *TINY],
                 ["decode", path, "-o", str(tmp_path / "missing" / "o.mp4")],
                 ["decode", path, "-o", "/proc/o.mp4"],
                 ["decode", path, "-o", str(tmp_path / "o.txt")]):
        r = run_cli(*args)
        assert r.returncode == 2, args
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "garbage"])
def test_broken_bitstream_keeps_the_old_output(tmp_path, tiny_nvc, damage):
    path, _ = tiny_nvc
    data = Path(path).read_bytes()
    bad = tmp_path / "bad.nvc"
    bad.write_bytes({"truncated": data[: len(data) // 2], "flipped": data[:40] + bytes([data[40] ^ 4]) + data[41:],
                     "empty": b"", "garbage": os.urandom(500)}[damage])
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous video")
    r = run_cli("decode", str(bad), "-o", str(out))
    assert r.returncode == 2 and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes() == b"the previous video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nvc", "out.mp4"]  # no temporary left


def test_frames_outside_the_video(tiny_nvc, tmp_path):
    path, _ = tiny_nvc
    r = run_cli("decode", path, "-o", str(tmp_path / "o.mp4"), "--frames", "4:99")
    assert r.returncode == 2 and "outside" in r.stderr


def test_parsers():
    assert parse_duration("10m") == 600 and parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    assert parse_count("300k") == 300_000 and parse_count("1.5M") == 1_500_000
    assert parse_count("nerv-s") == "nerv-s"
    for bad in ("", "abc", "-5m"):
        with pytest.raises(InputError):
            parse_duration(bad)
    with pytest.raises(InputError):
        parse_count("-3k")


def test_presets(tmp_path, tiny_video):
    from nvcodec.training.encoder import encode_video
    from conftest import TINY_FIT
    from dataclasses import replace
    r = encode_video(tiny_video, tmp_path / "p.nvc", params="xs", fit_config=replace(TINY_FIT, epochs=1))
    assert 50_000 < r.parameters <= 100_000
    with pytest.raises(InputError, match="not a hinerv preset"):
        encode_video(tiny_video, tmp_path / "p.nvc", params="huge", fit_config=TINY_FIT)


def test_outputs_get_the_usual_permissions(tmp_path, tiny_nvc):
    path, _ = tiny_nvc
    mask = os.umask(0o022)
    try:
        assert main(["decode", path, "-o", str(tmp_path / "o.mp4"), "--quiet"]) == 0
        assert main(["decode", path, "-o", str(tmp_path / "pngs"), "--quiet"]) == 0
    finally:
        os.umask(mask)
    assert (tmp_path / "o.mp4").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "pngs").stat().st_mode & 0o777 == 0o755
    assert os.stat(path).st_mode & 0o044  # the .nvc is readable by others as well


def test_demo_runs_the_whole_chain(tmp_path, capsys):
    import json
    assert main(["demo", "-o", str(tmp_path), "--time-budget", "1s", "--quiet"]) == 0
    report = json.loads((tmp_path / "demo.json").read_text())
    assert report["bytes"] == (tmp_path / "demo.nvc").stat().st_size
    assert read_video(tmp_path / "demo.mp4").frames.shape == (132, 180, 320, 3)
    assert report["psnr_rgb"] > 10 and report["render_fps"] > 0
    assert "x264" in capsys.readouterr().out
    picture = read_video(tmp_path / "demo.png").frames[0]  # 3 panels wide, frame and zoomed crop high
    assert picture.shape[1] == 3 * 320 and picture.shape[0] > 2 * 180
    # x264's panel is the integer CRF whose rate is nearest ours
    assert abs(report["picture"]["x264_bpp"] / report["bpp"] - 1) < 0.5
