"""Baseline streams: what is counted (no informational SEI), that it still decodes to the same
frames, an independent strip by FFmpeg's own bitstream filter, and reproducible x264 encodes."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from nvcodec.rd import baseline
from nvcodec.rd import runner as rd
from nvcodec.io import read_video, write_video

from conftest import make_video


@pytest.fixture(scope="module")
def clip64(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "c64.mp4"
    video = make_video(64, 64, 6)
    write_video(path, video.frames, video.info, lossless=True)
    return read_video(path, keep_yuv=True)


def test_nal_units_split_and_rejoin():
    data = b"\x00\x00\x00\x01\x67AB\x00\x00\x01\x06\x05\x01x\x80\x00\x00\x00\x01\x65C\x00"
    units = baseline.nal_units(data)
    assert b"".join(units) == data
    assert units == [b"\x00\x00\x00\x01\x67AB", b"\x00\x00\x01\x06\x05\x01x\x80", b"\x00\x00\x00\x01\x65C\x00"]


def test_sei_payload_types_parse_long_headers():
    # payloadType 5 with a 300-byte payload (size coded 0xFF 0x2D), then type 6 of 1 byte
    rbsp = b"\x05\xff\x2d" + b"u" * 300 + b"\x06\x01\x00\x80"
    assert baseline.sei_payload_types(rbsp) == [5, 6]
    assert baseline.sei_payload_types(b"\x05\x09abc") is None  # says 9 bytes, has 3


def _raw_and_counted(video, library):
    raw, _ = baseline.encode_raw(video, library, baseline.encoder_options(library, 30, "medium"))
    return raw, baseline.encode_yuv(video, library, 30, "medium")


def _decode(data, library):
    return baseline.decode_yuv(data, library)[0]


@pytest.mark.parametrize("library", ["libx264", "libx265"])
def test_counted_stream_drops_only_informational_sei(clip64, library):
    raw, enc = _raw_and_counted(clip64, library)
    assert enc.sei_bytes_dropped > 0 and len(enc.data) + enc.sei_bytes_dropped == len(raw)
    assert not any(baseline.is_informational_sei(n, library) for n in baseline.nal_units(enc.data))
    assert b"options:" not in enc.data and b"x26" not in enc.data  # the encoders' version and options text
    assert b"options:" in raw or b"x265" in raw
    # what a decoder needs is all there: the same frames from either stream
    for a, b in zip(_decode(raw, library), _decode(enc.data, library)):
        assert a.shape[0] == clip64.info.frames and np.array_equal(a, b)


def test_ffmpegs_own_filter_strips_the_same_bytes(clip64):
    """An independent strip: FFmpeg's filter_units bitstream filter removing every SEI NAL."""
    raw, enc = _raw_and_counted(clip64, "libx264")
    stripped = baseline.drop_sei_with_ffmpeg(raw)
    assert abs(len(stripped) - len(enc.data)) <= 0.02 * len(enc.data)


def test_baseline_point_records_hash_and_dropped_bytes(tmp_path, clip64):
    stream = tmp_path / "p.264"
    point = rd.baseline_rd_point(clip64, "x264-medium-psnr", 30, stream, ms_ssim=False)
    data = stream.read_bytes()
    assert point["bytes"] == len(data) and point["sha256"] == hashlib.sha256(data).hexdigest()
    assert point["sei-bytes-dropped"] > 0


def test_tune_psnr_and_veryslow_are_other_encodes(clip64):
    sizes = {name: rd.baseline_rd_point(clip64, name, 30, ms_ssim=False)["sha256"]
             for name in ("x264-medium", "x264-medium-psnr", "x264-veryslow-psnr")}
    assert len(set(sizes.values())) == 3


def test_unknown_baseline_is_named():
    with pytest.raises(Exception, match="baseline 'x263'"):
        rd.baseline_curve("x263")


_ENCODE = """
import hashlib, sys
from nvcodec.rd.baseline import encode_yuv
from nvcodec.io import read_video
print(hashlib.sha256(encode_yuv(read_video(sys.argv[1], keep_yuv=True), "libx264", 30).data).hexdigest())
"""


def test_x264_is_reproducible_at_heights_not_multiple_of_16(tmp_path):
    """x264 reads heap memory it never wrote at such heights (its AVX-512 code; see
    bench/studies/2026-11-26-x264-determinism/x264_determinism.py): whatever the allocator holds, the stream must be the same."""
    path = tmp_path / "h40.mp4"
    video = make_video(64, 40, 12, seed=1)
    write_video(path, video.frames, video.info, lossless=True)
    hashes = set()
    for perturb in ("1", "170"):  # glibc fills fresh memory with this byte: other garbage each run
        env = {**os.environ, "MALLOC_PERTURB_": perturb}
        out = subprocess.run([sys.executable, "-c", _ENCODE, str(path)], capture_output=True, text=True,
                             env=env, timeout=120, check=True)
        hashes.add(out.stdout.strip())
    assert len(hashes) == 1
