"""The container: round trip, and every kind of damage ends in one BitstreamError."""
import json
import struct

import numpy as np
import pytest

from nvcodec.bitstream.container import LIMITS, read_container, write_container
from nvcodec.bitstream.decoder import load_bitstream
from nvcodec.errors import BitstreamError
from nvcfile import nvc

HEADER = {"model": "nerv", "config": {}, "width": 40, "height": 24, "frames": 6, "fps": [25, 1],
          "matrix": "bt601", "range": "tv"}


def test_container_roundtrip():
    data = write_container(HEADER, b"payload")
    c = read_container(data)
    assert c.header == HEADER and c.sections[b"TENS"] == b"payload"
    assert c.total_bytes == len(data) == sum(c.section_sizes.values()) + 5


def test_only_files_with_predicted_tensors_are_version_5():
    assert write_container(HEADER, b"payload")[4] == 2
    data = write_container({**HEADER, "colorspace": "yuv420"}, b"payload", predicted=True)
    assert data[4] == 5  # in any colorspace
    c = read_container(data)
    assert c.predictors and c.header["colorspace"] == "yuv420" and c.sections[b"TENS"] == b"payload"
    assert not read_container(write_container(HEADER, b"payload")).predictors
    with pytest.raises(ValueError, match="no group index"):
        write_container(HEADER, b"payload", [7], predicted=True)


def test_bad_magic_and_version():
    data = write_container(HEADER, b"x")
    with pytest.raises(BitstreamError, match="bad magic"):
        read_container(b"RIFF" + data[4:], "f.nvc")
    with pytest.raises(BitstreamError, match="version 9 .* use a newer nvcodec"):
        read_container(data[:4] + b"\x09" + data[5:], "f.nvc")
    with pytest.raises(BitstreamError, match="version 1 .* re-encode"):  # float Laplace/Gaussian models
        read_container(data[:4] + b"\x01" + data[5:], "f.nvc")


def _rewrite_header(header) -> bytes:
    return nvc(header, b"")


@pytest.mark.parametrize("change, match", [
    ({"width": 10**9}, "width"),
    ({"height": 0}, "height"),
    ({"frames": 2**31}, "frames"),
    ({"fps": [25, 0]}, "fps"),
    ({"matrix": "xyz"}, "colour"),
    ({"model": 5}, "model"),
    ({"fps": [25.5, 1]}, "fps"),
])
def test_header_limits(change, match):
    with pytest.raises(BitstreamError, match=match):
        read_container(_rewrite_header({**HEADER, **change}), "f.nvc")


@pytest.mark.parametrize("number, match", [("9" * 5000, "a number of 5000 characters"), ("1e999", "number 1e999 is not finite"),
                                           ("NaN", "NaN is not a JSON number"), ("1" + "0" * 40, "a number of 41 characters")])
def test_over_long_and_odd_numbers_are_refused_before_conversion(number, match):
    head = json.dumps({**HEADER, "width": 12345}).encode().replace(b"12345", number.encode())
    with pytest.raises(BitstreamError, match=f"f.nvc: header holds {match}"):
        read_container(nvc(head, b""), "f.nvc")


def test_section_longer_than_file():
    data = bytearray(write_container(HEADER, b"abc"))
    pos = data.index(b"TENS")
    data[pos + 4:pos + 8] = struct.pack("<I", LIMITS["section_bytes"])
    with pytest.raises(BitstreamError, match="truncated"):
        read_container(bytes(data), "f.nvc")
    data[pos + 4:pos + 8] = struct.pack("<I", 2**32 - 1)
    with pytest.raises(BitstreamError, match="limit"):
        read_container(bytes(data), "f.nvc")


def test_every_truncation_and_bit_flip_of_a_real_file(tiny_nvc):
    path, _ = tiny_nvc
    data = open(path, "rb").read()
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            load_bitstream(data[:n], "f.nvc")
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(data), size=min(300, len(data)), replace=False):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(rng.integers(8))
        with pytest.raises(BitstreamError):
            load_bitstream(bytes(flipped), "f.nvc")


def test_absurd_model_config_is_refused_before_allocation(tiny_nvc):
    path, _ = tiny_nvc
    c = read_container(open(path, "rb").read())
    for change in ({"channels": [4096] * len(c.header["config"]["channels"])}, {"strides": [8] * 8},
                   {"mlp_hidden": 10**9}, {"unknown": 1}, {"frames": 10**6}):
        header = {**c.header, "config": {**c.header["config"], **change}}
        data = write_container(header, c.sections[b"TENS"])
        with pytest.raises(BitstreamError, match="f.nvc"):
            load_bitstream(data, "f.nvc")
