"""Raw planar YUV in and out (issue 26): names, options, 8- and 10-bit round trips through encode and
decode, odd sizes, the lazy frames, every refusal, and a tiny bench on a raw clip."""
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_video
from nvcodec.cli import main
from nvcodec.bitstream.decoder import decode_frames, decode_yuv420
from nvcodec.errors import InputError
from nvcodec.io import LazyFrames, as_tensor, read_video, rgb_frames_to_yuv420, yuv420_to_444
from nvcodec.rawyuv import RawOptions, format_for, parse_fps, parse_name, to_av_frame

TINY = ["--epochs", "2", "--params", "3k", "--quiet", "--checkpoint-every", "0"]


def planes_of(width=40, height=24, frames=6):
    """yuv420p planes (each (T, h, w)) of the suite's moving pattern, BT.601 tv as a small clip's."""
    return rgb_frames_to_yuv420(make_video(width, height, frames).frames, "bt601", "tv")


def write_raw(path: Path, planes, bits: int = 8) -> Path:
    """Planes out as a raw file: 8-bit as they are, 10-bit as 16-bit little-endian words (x4 plus
    a low-bit pattern, so the two low bits are not all zero)."""
    with open(path, "wb") as f:
        for i in range(len(planes[0])):
            for p in planes:
                frame = p[i]
                if bits == 10:
                    frame = (frame.astype("<u2") << 2) | (np.arange(frame.size, dtype="<u2").reshape(frame.shape) % 4)
                f.write(np.ascontiguousarray(frame).tobytes())
    return path


def write_y4m(path: Path, raw: Path, pix_fmt: str, size, count: int) -> Path:
    """The same samples in a y4m container (read by the container path)."""
    import av

    from nvcodec.rawyuv import RawReader

    reader = RawReader(raw, format_for(raw, RawOptions(size=size, pix_fmt=pix_fmt)))
    with av.open(str(path), "w", format="yuv4mpegpipe", options={"strict": "-1"}) as c:  # -1: 10-bit y4m
        s = c.add_stream("rawvideo", rate=25)
        s.width, s.height, s.pix_fmt = size[0], size[1], pix_fmt
        for i in range(count):
            for packet in s.encode(to_av_frame(reader.planes(i), pix_fmt)):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def read_raw_planes(path: Path, width: int, height: int, bits: int = 8):
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    cw, ch = (width + 1) // 2, (height + 1) // 2
    data = np.fromfile(path, dtype)
    frame = width * height + 2 * cw * ch
    assert data.size % frame == 0
    t = data.size // frame
    data = data.reshape(t, frame)
    return (data[:, :width * height].reshape(t, height, width),
            data[:, width * height:width * height + cw * ch].reshape(t, ch, cw),
            data[:, width * height + cw * ch:].reshape(t, ch, cw))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nvcodec: error: "), err
    return err[0]


# ---------------------------------------------------------------------------- names and options
def test_names_of_the_field():
    uvg = parse_name("Beauty_1920x1080_120fps_420_8bit_YUV.yuv")
    assert (uvg.size, uvg.fps, uvg.chroma, uvg.bits) == ((1920, 1080), 120, "420", 8)
    assert parse_name("ReadySetGo_3840x2160_120fps_420_10bit_YUV.yuv").bits == 10
    jvet = parse_name("BasketballDrive_1920x1080_50.yuv")  # a bare number after the size is the rate
    assert (jvet.size, jvet.fps, jvet.chroma, jvet.bits) == ((1920, 1080), 50, None, None)
    assert parse_name("Tango2_3840x2160_60fps_10bit_420.yuv").bits == 10
    assert parse_name("x_176x144_29.97fps_yuv420p10le.yuv").fps == Fraction(30000, 1001)
    assert parse_name("carphone_176x144.yuv").fps is None
    with pytest.raises(InputError, match="two frame sizes"):
        parse_name("a_176x144_352x288.yuv")
    assert parse_fps("30000/1001") == parse_fps("29.97") == Fraction(30000, 1001)
    fmt = format_for("Beauty_1920x1080_120fps_420_10bit_YUV.yuv")
    assert (fmt.pix_fmt, fmt.matrix, fmt.range, fmt.frame_bytes) == ("yuv420p10le", "bt709", "tv", 1920 * 1080 * 3)
    small = format_for("carphone_176x144.yuv")  # defaults: 4:2:0, 8 bits, 25 fps; BT.601 below 720 lines
    assert (small.pix_fmt, small.fps, small.matrix) == ("yuv420p", 25, "bt601")
    # options win over the name (its bit depth excepted)
    both = format_for("carphone_176x144_30fps.yuv", RawOptions(size=(88, 72), fps=Fraction(50), pix_fmt="yuv444p",
                                                                matrix="bt709", range="pc"))
    assert (both.width, both.height, both.fps, both.pix_fmt, both.matrix, both.range) == (88, 72, 50, "yuv444p",
                                                                                          "bt709", "pc")


def test_raw_reads_as_the_same_samples_in_a_y4m(tmp_path):
    """8-bit: the RGB and the planes of a raw file are those of a y4m of the same samples (the
    planes themselves); 10-bit: the same 8-bit RGB and planes as the 10-bit y4m gives."""
    planes = planes_of()
    for bits, pix_fmt in ((8, "yuv420p"), (10, "yuv420p10le")):
        raw = write_raw(tmp_path / f"c_40x24_25fps_420_{bits}bit.yuv", planes, bits)
        y4m = write_y4m(tmp_path / f"c{bits}.y4m", raw, pix_fmt, (40, 24), 6)
        a, b = read_video(raw, keep_yuv=True), read_video(y4m, keep_yuv=True)
        assert isinstance(a.frames, LazyFrames) and a.frames.shape == (6, 24, 40, 3)
        assert a.info == b.info
        assert np.array_equal(np.asarray(a.frames), b.frames)
        for k in range(3):
            assert np.array_equal(np.asarray(a.yuv[k]), b.yuv[k])
        if bits == 8:
            assert all(np.array_equal(np.asarray(a.yuv[k]), planes[k]) for k in range(3))
        # resized (converted once, into arrays) as the container is
        a, b = read_video(raw, size=(20, 12), keep_yuv=True, frames=(1, 4)), read_video(y4m, size=(20, 12),
                                                                                       keep_yuv=True, frames=(1, 4))
        assert isinstance(a.frames, np.ndarray) and np.array_equal(a.frames, b.frames)
        assert all(np.array_equal(a.yuv[k], b.yuv[k]) for k in range(3))


def test_lazy_frames_index_like_arrays(tmp_path):
    raw = write_raw(tmp_path / "c_40x24.yuv", planes_of())
    video = read_video(raw, frames=(1, 5))
    lazy, full = video.frames, np.asarray(video.frames)
    assert len(lazy) == 4 and full.shape == (4, 24, 40, 3)
    assert np.array_equal(lazy[2], full[2]) and np.array_equal(lazy[-1], full[-1])
    assert np.array_equal(lazy[1:3], full[1:3]) and np.array_equal(lazy[[3, 0]], full[[3, 0]])
    assert np.array_equal(lazy[:, ::4, ::8], full[:, ::4, ::8])  # scene cuts' subsampling
    batch = as_tensor(lazy)[torch.tensor([2, 0])]  # what the fit's to_batch takes
    assert isinstance(batch, torch.Tensor) and torch.equal(batch, torch.from_numpy(full[[2, 0]]))
    assert isinstance(as_tensor(lazy)[1:3], torch.Tensor)  # HNeRV's prepare_storage slices
    with pytest.raises(IndexError):
        lazy[4]
    targets = yuv420_to_444(*read_video(raw, frames=(1, 5), keep_yuv=True).yuv)  # a yuv420 fit's, lazily
    assert isinstance(targets, LazyFrames) and np.array_equal(np.asarray(targets), yuv420_to_444(*planes_of())[1:5])


# ---------------------------------------------------------------------------- encode and decode
def test_8bit_by_name_and_by_options_round_trip(tmp_path, capsys):
    planes = planes_of()
    named = write_raw(tmp_path / "Tiny_40x24_25fps_420_8bit_YUV.yuv", planes)
    bare = write_raw(tmp_path / "tiny.yuv", planes)
    assert main(["encode", str(named), "-o", str(tmp_path / "a.nvc"), *TINY]) == 0
    assert main(["encode", str(bare), "-o", str(tmp_path / "b.nvc"), "--input-size", "40x24", "--input-fps", "25",
                 "--pix-fmt", "yuv420p", *TINY]) == 0
    # the same samples, the same fit: the same file
    assert (tmp_path / "a.nvc").read_bytes() == (tmp_path / "b.nvc").read_bytes()
    out = tmp_path / "out.yuv"
    assert main(["decode", str(tmp_path / "a.nvc"), "-o", str(out)]) == 0
    assert "raw yuv420p 40x24 at 25 fps" in capsys.readouterr().out
    y, u, v = read_raw_planes(out, 40, 24)
    want = rgb_frames_to_yuv420(decode_frames(tmp_path / "a.nvc"), "bt601", "tv")
    assert np.array_equal(y, want[0]) and np.array_equal(u, want[1]) and np.array_equal(v, want[2])
    # a .yuv written by decode reads back by name
    back = read_video(write_raw(tmp_path / "Out_40x24_25fps_420_8bit.yuv", (y, u, v)), keep_yuv=True)
    assert np.array_equal(np.asarray(back.yuv[0]), want[0])


def test_10bit_round_trip(tmp_path):
    raw = write_raw(tmp_path / "Tiny_40x24_25fps_420_10bit_YUV.yuv", planes_of(), bits=10)
    nvc = tmp_path / "t.nvc"
    assert main(["encode", str(raw), "-o", str(nvc), *TINY]) == 0
    assert main(["encode", str(tmp_path / "Tiny_40x24_25fps_420_10bit_YUV.yuv"), "-o", str(tmp_path / "o.nvc"),
                 "--pix-fmt", "yuv420p10le", *TINY]) == 0  # an option that agrees with the name
    assert nvc.read_bytes() == (tmp_path / "o.nvc").read_bytes()
    assert main(["decode", str(nvc), "-o", str(tmp_path / "o8.yuv"), "--quiet"]) == 0
    assert main(["decode", str(nvc), "-o", str(tmp_path / "o10.yuv"), "--pix-fmt", "yuv420p10le", "--quiet"]) == 0
    want = rgb_frames_to_yuv420(decode_frames(nvc), "bt601", "tv")
    p8 = read_raw_planes(tmp_path / "o8.yuv", 40, 24)
    p10 = read_raw_planes(tmp_path / "o10.yuv", 40, 24, bits=10)
    assert (tmp_path / "o10.yuv").stat().st_size == 2 * (tmp_path / "o8.yuv").stat().st_size
    for k in range(3):
        assert np.array_equal(p8[k], want[k])
        assert p10[k].max() < 1024 and np.abs(p10[k].astype(int) / 4 - want[k]).max() <= 1


def test_yuv420_fit_decodes_to_its_planes_and_odd_sizes(tmp_path):
    """A yuv420 fit of a raw file: the .yuv holds the standalone decoder's planes exactly, at an odd
    size too (chroma ceil(W/2) x ceil(H/2), FFmpeg's layout)."""
    for w, h in ((40, 24), (41, 25)):
        raw = write_raw(tmp_path / f"c_{w}x{h}_25fps.yuv", planes_of(w, h, 4))
        assert raw.stat().st_size == 4 * (w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2))
        nvc, out = tmp_path / f"{w}.nvc", tmp_path / f"{w}.yuv"
        assert main(["encode", str(raw), "-o", str(nvc), "--colorspace", "yuv420", *TINY]) == 0
        assert main(["decode", str(nvc), "-o", str(out), "--quiet"]) == 0
        want = decode_yuv420(nvc)
        got = read_raw_planes(out, w, h)
        assert all(np.array_equal(got[k], want[k]) for k in range(3))
        rgb_out = tmp_path / f"{w}-rgb.nvc"  # an RGB fit at the odd size writes its true size too
        assert main(["encode", str(raw), "-o", str(rgb_out), *TINY]) == 0
        assert main(["decode", str(rgb_out), "-o", str(tmp_path / f"{w}-rgb.yuv"), "--quiet"]) == 0
        assert (tmp_path / f"{w}-rgb.yuv").stat().st_size == raw.stat().st_size


# ---------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("case", ["not_whole_frames", "unknown_pix_fmt", "no_size", "bits_contradict_name",
                                  "name_16bit", "option_on_mp4"])
def test_bad_raw_inputs(tmp_path, tiny_clip, case, capsys):
    planes = planes_of()
    source, extra = tmp_path / "Tiny_40x24_25fps_420_8bit.yuv", []
    if case == "not_whole_frames":
        write_raw(source, planes)
        with open(source, "ab") as f:
            f.write(b"12345")
    elif case == "unknown_pix_fmt":
        write_raw(source, planes)
        extra = ["--pix-fmt", "nv12"]
    elif case == "no_size":
        source = write_raw(tmp_path / "tiny.yuv", planes)
    elif case == "bits_contradict_name":
        source = write_raw(tmp_path / "Tiny_40x24_25fps_420_10bit.yuv", planes, bits=10)
        extra = ["--pix-fmt", "yuv420p"]
    elif case == "name_16bit":
        source = write_raw(tmp_path / "Tiny_40x24_16bit.yuv", planes)
    else:
        source, extra = Path(tiny_clip), ["--input-size", "40x24"]
    out = tmp_path / "out.nvc"
    assert main(["encode", str(source), "-o", str(out), *TINY, *extra]) == 2
    line = one_error_line(capsys)
    assert str(source) in line
    if case == "not_whole_frames":
        assert f"{source.stat().st_size} bytes" in line and "1440 bytes" in line  # both numbers
    assert {"unknown_pix_fmt": "nv12", "no_size": "--input-size", "bits_contradict_name": "10-bit",
            "name_16bit": "16-bit", "option_on_mp4": "--input-size"}.get(case, "frames") in line
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


def test_bad_raw_outputs(tmp_path, tiny_nvc, capsys):
    path, _ = tiny_nvc
    for out, extra, says in ((tmp_path / "o.mp4", ["--pix-fmt", "yuv420p"], "for raw .yuv outputs"),
                             (tmp_path / "o.yuv", ["--pix-fmt", "rgb24"], "rgb24")):
        assert main(["decode", path, "-o", str(out), "--quiet", *extra]) == 2
        line = one_error_line(capsys)
        assert str(out) in line and says in line
        assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_one_line_from_the_command(tmp_path):
    """The same refusal through the real command: exit 2, one line, no traceback, nothing written."""
    from test_cli import run_cli

    source = write_raw(tmp_path / "carphone_176x144.yuv", planes_of())  # 8640 bytes: not 176x144 frames
    r = run_cli("encode", str(source), "-o", str(tmp_path / "o.nvc"), *TINY)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"nvcodec: error: {source}: 8640 bytes is not a whole number of 176x144 yuv420p frames of 38016 bytes "
        "(0 frames and 8640 bytes over); check --input-size and --pix-fmt, or the name's _WxH_ and _8bit_/_10bit_"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["carphone_176x144.yuv"]


# ---------------------------------------------------------------------------- the bench
def test_bench_on_a_raw_clip(tmp_path, capsys):
    raw = write_raw(tmp_path / "Tiny_48x32_25fps_420_8bit_YUV.yuv", planes_of(48, 32, 4))
    out = tmp_path / "r"
    assert main(["bench", "--clips", f"{raw}@32x16", "--models", "nerv", "--baselines", "x264", "--budget", "1s",
                 "--bits", "8", "--rates", "10", "--crf", "30", "-o", str(out), "--quiet"]) == 0
    clip = out / "Tiny_48x32_25fps_420_8bit_YUV-32x16"
    ours, x264 = (json.loads((clip / f"{n}.json").read_text()) for n in ("nvcodec-nerv-1s", "x264-medium"))
    reference = read_video(raw, size=(32, 16), keep_yuv=True)  # resized and scored like the bundled clips
    for data in (ours, x264):
        assert data["meta"]["setup"]["size"] == [32, 16] and data["meta"]["setup"]["frames"] == 4
        if "reference-sha256" in data["results"]:
            import hashlib
            assert data["results"]["reference-sha256"] == [hashlib.sha256(reference.frames.tobytes()).hexdigest()]
    from nvcodec.metrics import psnr_rgb
    stream = next((clip / "streams").glob("*.nvc"))
    assert psnr_rgb(decode_frames(stream), reference.frames) == pytest.approx(ours["results"]["psnr-rgb"][0], abs=1e-9)
