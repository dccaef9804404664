"""Hostile inputs (issue 5's fast cases): fuzzed files, odd and broken videos, kills and resumes."""
import hashlib
from fractions import Fraction
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from nvcodec.bitstream.decoder import decode_frames, load_bitstream
from nvcodec.errors import BitstreamError, InputError
from nvcodec.io import read_video


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_are_refused(data):
    with pytest.raises(BitstreamError):
        load_bitstream(data, "f.nvc")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_flips_and_splices_are_refused(tiny_nvc, data):
    path, _ = tiny_nvc
    original = Path(path).read_bytes()
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(damaged) - 1))
        damaged[pos] ^= data.draw(st.integers(1, 255))
    assume(bytes(damaged) != original)  # two flips of one byte can cancel out
    with pytest.raises(BitstreamError):
        load_bitstream(bytes(damaged), "f.nvc")


def _write(path, frames, fmt, codec, pix_fmt, rate=25, **options):
    import av
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        s.options = options
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format=pix_fmt)
            vf.pts = i
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("kind", ["gray", "10bit", "tiny", "yuv444", "mkv"])
def test_unusual_videos_are_read(tmp_path, tiny_video, kind):
    frames = tiny_video.frames
    path = tmp_path / f"v.{'mkv' if kind == 'mkv' else 'mp4'}"
    if kind == "gray":
        _write(path, frames, "mp4", "libx264", "gray", crf="0")
    elif kind == "10bit":
        _write(path, frames, "mp4", "libx265", "yuv420p10le", **{"x265-params": "log-level=error:lossless=1"})
    elif kind == "tiny":
        _write(path, np.ascontiguousarray(frames[:, :2, :2]), "mp4", "libx264rgb", "rgb24", qp="0")
    elif kind == "yuv444":
        _write(path, frames, "mp4", "libx264", "yuv444p", crf="0")
    else:
        _write(path, frames, "matroska", "libx264", "yuv420p", crf="0")
    video = read_video(path)
    assert video.frames.dtype == np.uint8 and video.frames.shape[0] == 6 and video.frames.shape[-1] == 3
    if kind == "gray":
        assert np.array_equal(video.frames[..., 0], video.frames[..., 1])


def test_audio_only_file_is_refused(tmp_path):
    import av
    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(InputError, match="no video stream"):
        read_video(path)


def _decode_hash(path: str) -> str:
    code = ("import hashlib, sys; from nvcodec.bitstream.decoder import decode_frames; "
            "print(hashlib.sha256(decode_frames(sys.argv[1]).tobytes()).hexdigest())")
    return subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True,
                          timeout=120).stdout.strip()


def test_decoding_is_deterministic_across_processes(tiny_nvc):
    path, _ = tiny_nvc
    first = _decode_hash(path)
    assert first == _decode_hash(path)
    assert first == hashlib.sha256(decode_frames(path).tobytes()).hexdigest()


def test_killed_encode_resumes_to_the_same_bytes(tmp_path, tiny_clip):
    args = [sys.executable, "-m", "nvcodec", "encode", tiny_clip, "--epochs", "40", "--params", "3k",
            "--checkpoint-every", "5", "--quiet"]
    straight = tmp_path / "straight.nvc"
    subprocess.run([*args, "-o", str(straight)], check=True, timeout=300)

    resumed = tmp_path / "resumed.nvc"
    ckpt = Path(f"{resumed}.ckpt")
    proc = subprocess.Popen([*args, "-o", str(resumed)])
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if resumed.exists():
        pytest.skip("the encode finished before it could be killed")
    assert ckpt.exists()
    subprocess.run([*args, "-o", str(resumed), "--resume"], check=True, timeout=300)
    assert resumed.read_bytes() == straight.read_bytes()
    assert not ckpt.exists()


def test_variable_frame_rate_is_read(tmp_path, tiny_video):
    import av
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w", format="matroska") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 40, 24, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, (f, pts) in enumerate(zip(tiny_video.frames, [0, 40, 50, 130, 140, 300])):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
            vf.pts, vf.time_base = pts, Fraction(1, 1000)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    video = read_video(path)
    assert video.frames.shape[0] == 6 and video.info.fps > 0


def test_too_large_is_refused_before_reading_it_all(tmp_path, tiny_clip, monkeypatch):
    import nvcodec.io
    monkeypatch.setattr(nvcodec.io, "MAX_SIZE", 32)  # the clip is 40x24
    with pytest.raises(InputError, match="larger than 32 pixels a side"):
        read_video(tiny_clip)


def _damaged(tmp_path, frames, ext: str, how: str) -> Path:
    from nvcodec.io import VideoInfo, write_video
    path = tmp_path / f"v.{ext}"
    write_video(path, frames, VideoInfo(frames.shape[2], frames.shape[1], len(frames)), lossless=True)
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[:int(len(data) * 0.6)]
    else:  # zeros in the middle of the coded frames
        data[len(data) // 2:len(data) // 2 + 200] = bytes(200)
    path.write_bytes(bytes(data))
    return path


def test_a_source_failing_part_way_is_an_error_naming_the_frame(tmp_path):
    from conftest import make_video
    path = _damaged(tmp_path, make_video(frames=20).frames, "mp4", "zeros")
    with pytest.raises(InputError, match=r"v.mp4: cannot decode frame 10 .*--frames 0:10"):
        read_video(path)
    assert read_video(path, frames=(0, 10)).frames.shape[0] == 10  # what the message offers works


def test_a_truncated_source_is_not_a_silently_shorter_video(tmp_path):
    from conftest import make_video
    path = _damaged(tmp_path, make_video(frames=20).frames, "avi", "truncate")
    with pytest.raises(InputError, match=r"v.avi: the container declares 20 frames but decoding ended after 11"):
        read_video(path)


def test_a_declared_frame_count_is_not_trusted_for_allocation(tmp_path, tiny_clip):
    from nvcodec.io import VideoInfo, _preallocate
    info = VideoInfo(1920, 1080, 0)
    assert _preallocate(Path(tiny_clip), 10**9, 0, None, info) is None  # more frames than the file has bytes
    assert _preallocate(Path(tiny_clip), 6, 0, None, VideoInfo(40, 24, 0)).shape == (6, 24, 40, 3)
