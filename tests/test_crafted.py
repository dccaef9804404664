"""CRC-valid files that lie (issue 10): every section's CRC is right, so each lie reaches the parser
behind the CRC check. Each is decoded by the command line in its own process under a 4 GiB
address-space limit and must end within 60 s in exit code 2 and one line naming the file: no
traceback, no output file, no allocation the file cannot back."""
import json
import math
import subprocess
import sys
import time

import pytest
import torch

from nvcfile import categorical, const, laplace, nvc, raw, record
from nvcodec.bitstream.container import svarint, uvarint
from nvcodec.bitstream.entropy import scale_count
from nvcodec.models import model_class

HEADER = {"model": "nerv", "width": 40, "height": 24, "frames": 6, "fps": [25, 1], "matrix": "bt601", "range": "tv",
          "config": {"channels": [2, 2], "frames": 6, "mlp_hidden": 16, "out_size": [24, 42], "pe_base": 1.25,
                     "pe_levels": 80, "stem_size": [8, 14], "strides": [3]}}

RUN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from nvcodec.cli import main
sys.exit(main(["decode", sys.argv[1], "-o", sys.argv[2], "--quiet"]))
"""


def shapes(header):
    cls = model_class(header["model"])
    with torch.device("meta"):
        return [tuple(t.shape) for t in cls(header["config"], decoder_only=True).stored_tensors().values()]


def tens(header, lie: bytes = None, bits: int = 8) -> bytes:
    """Every tensor a CONST 0 (one byte backs any count); the largest one ``lie`` if given."""
    sizes = [math.prod(s) for s in shapes(header)]
    out = b""
    for i, shape in enumerate(shapes(header)):
        lying = lie is not None and i == sizes.index(max(sizes))
        out += record(lie if lying else const(0), scale_count(shape), bits if lying else 8)
    return out


def with_config(**change):
    return {**HEADER, "config": {**HEADER["config"], **change}}


def header_text(**replace) -> bytes:
    """The header's JSON with some values replaced by raw text (numbers json.dumps cannot write)."""
    text = json.dumps(HEADER, separators=(",", ":"))
    for old, new in replace.items():
        text = text.replace(old, new, 1)
    return text.encode()


def ans_words(count=1):
    return [0x12345678] * count


CASES = {
    # size bombs
    "1x1 video rendered at 65536x65536": lambda: nvc(
        {**with_config(stem_size=[1024, 1024], strides=[8, 8], out_size=[65536, 65536], channels=[1, 1, 1]),
         "width": 1, "height": 1}, b""),
    "16384x16384 frames past the memory limit": lambda: nvc(
        h := {**with_config(stem_size=[512, 512], strides=[8, 4], out_size=[16384, 16384], channels=[8, 8, 8]),
              "width": 16384, "height": 16384}, tens(h)),
    "2^27 parameters backed by CONST bytes": lambda: nvc(
        h := with_config(mlp_hidden=8192, channels=[146, 2]), tens(h)),
    # huge counts with tiny payloads (the largest tensor holds 3584 values)
    "histogram bin count above the tensor's size": lambda: nvc(HEADER, tens(HEADER, categorical(0, [1, 2**30], ans_words()))),
    "65535 histogram bins in one byte": lambda: nvc(HEADER, tens(HEADER, bytes([2]) + svarint(-32767) + uvarint(65535)
                                                               + b"\x01", bits=16)),
    "ANS stream declaring 2^28 words": lambda: nvc(HEADER, tens(HEADER, bytes([2]) + svarint(0) + uvarint(2) + uvarint(1)
                                                                + uvarint(3583) + uvarint(2**28))),
    "3584 raw codes in 2 bytes": lambda: nvc(HEADER, tens(HEADER, raw(0, 8, b"\x01\x02"))),
    # int32 overflows
    "CONST value 2^31": lambda: nvc(HEADER, tens(HEADER, bytes([0]) + svarint(2**31), bits=16)),
    "minimum -2^40": lambda: nvc(HEADER, tens(HEADER, bytes([1]) + svarint(-(2**40)) + bytes([8]) + b"\0" * 3)),
    "varint of 20 bytes": lambda: nvc(HEADER, tens(HEADER, bytes([0]) + b"\xff" * 19 + b"\x01")),
    # over-long numbers
    "width of 5000 digits": lambda: nvc(header_text(**{'"width":40': '"width":' + "4" * 5000}), tens(HEADER)),
    "config number of 40 digits": lambda: nvc(header_text(**{'"mlp_hidden":16': '"mlp_hidden":1' + "0" * 39}), b""),
    "frame rate 1e999": lambda: nvc(header_text(**{'"fps":[25,1]': '"fps":[1e999,1]'}), tens(HEADER)),
    # unknown method bytes
    "method byte 4 (version 1's Gaussian)": lambda: nvc(HEADER, tens(HEADER, bytes([4]) + svarint(0) + uvarint(3))),
    "method byte 255": lambda: nvc(HEADER, tens(HEADER, bytes([255]))),
    # unconsumed or missing ANS words
    "ANS words left over": lambda: nvc(HEADER, tens(HEADER, laplace(-2, 4, 0, 8, ans_words(3)))),
    "no ANS words": lambda: nvc(HEADER, tens(HEADER, categorical(-1, [1, 3583], []))),
    "ANS stream ending in a zero word": lambda: nvc(HEADER, tens(HEADER, laplace(-100, 200, 0, 50, [7, 0]))),
    "one ANS word for 3584 values": lambda: nvc(HEADER, tens(HEADER, laplace(-100, 200, 0, 50, ans_words(1)))),
    # the rest
    "a byte after the last tensor": lambda: nvc(HEADER, tens(HEADER) + b"\0"),
    "version 1 file": lambda: nvc(HEADER, tens(HEADER), version=1),
    "Laplace past the bit range": lambda: nvc(HEADER, tens(HEADER, laplace(-127, 300, 0, 8, ans_words()))),
}


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """The crafted files' framing is right: an honest file built the same way decodes."""
    path = tmp_path_factory.mktemp("honest") / "ok.nvc"
    path.write_bytes(nvc(HEADER, tens(HEADER)))
    return path


def test_the_builder_makes_decodable_files(honest, tmp_path):
    r = subprocess.run([sys.executable, "-c", RUN, str(honest), str(tmp_path / "ok.y4m")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ok.y4m").exists()


def _decode(case: str, folder) -> tuple:
    folder.mkdir()
    path, out = folder / "lie.nvc", folder / "out.y4m"
    path.write_bytes(CASES[case]())
    began = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", RUN, str(path), str(out)], capture_output=True, text=True, timeout=120)
    return r, time.perf_counter() - began, path, out


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case decoded in its own process, four at a time (each process spends most of its
    time importing torch)."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("crafted")
    with ThreadPoolExecutor(4) as pool:
        futures = {case: pool.submit(_decode, case, root / f"case{i}") for i, case in enumerate(CASES)}
        return {case: f.result() for case, f in futures.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_lie_ends_in_one_line(outcomes, case):
    r, seconds, path, out = outcomes[case]
    assert seconds < 60
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(f"nvcodec: error: {path}: "), r.stderr[-2000:]
    assert "please report" not in lines[0]  # refused by a check, not by the safety net
    assert not out.exists() and not list(path.parent.glob(".out*"))


def test_max_memory_is_the_limit(honest, tmp_path, capsys):
    from nvcodec.cli import main, parse_memory
    assert parse_memory("2G") == 2 << 30 and parse_memory("512MiB") == 512 << 20 and parse_memory("1000") == 1000
    assert main(["decode", str(honest), "-o", str(tmp_path / "a.y4m"), "--quiet", "--max-memory", "100k"]) == 2
    assert "above the memory limit of 100.0 KiB; give --max-memory" in capsys.readouterr().err
    assert not (tmp_path / "a.y4m").exists()
    assert main(["decode", str(honest), "-o", str(tmp_path / "b.y4m"), "--quiet", "--max-memory", "64M"]) == 0
