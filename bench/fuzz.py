"""A fuzzing campaign against the bitstream parser and decoder (longer than the test suite's).

    python bench/fuzz.py [--cases 100000] [--seed 0] [--json bench/results/fuzz.json]

Seeds: a real file per model (tiny, fitted for an epoch) and tests/data/golden.nvc (whose tensors
use every coding method). Blind mutations: every truncation, bit flips, random bytes, splices,
absurd header values, sections longer than the file. Structure-aware mutations, each written
back with valid framing and CRCs so that it reaches the parser behind the CRC check: a header or
config value set to an edge value (0, -1, 2^31, 10^40, a 5,000-digit number, 1e999, NaN, a
wrong type, a missing or extra key), a field of a tensor record (bits, method byte, minimum,
raw width, histogram bin count and counts, Laplace span, centre and scale code, ANS word count)
re-encoded with an edge value, ANS words added or removed, the format version changed, a bit
flipped inside the coded tensors.

A finding: any exception other than BitstreamError, a BitstreamError from the decoder's safety
net ("please report it": a fault no check caught), a case slower than 5 s, or a blind mutation
that decodes. Structure-aware mutations may decode (an edge value can be a valid one); they must
only never crash, hang or allocate past the limits. Reports counts per kind, the slowest case
and peak memory.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from nvcodec.bitstream import MAGIC, VERSION, Reader, read_container, svarint, uvarint
from nvcodec.decoder import decode_frames
from nvcodec.entropy import CATEGORICAL, CONST, LAPLACE, RAW, scale_count
from nvcodec.errors import BitstreamError
from nvcodec.models import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import make_video  # noqa: E402

MEMORY_LIMIT = 2 << 30  # the decoder's limit in every case, so outcomes do not depend on the machine
EDGE_INTS = [0, 1, 2, 3, 7, 8, 15, 16, 17, 24, 32, 127, 128, 255, 256, 4096, 32767, 32768, 65535, 65536, 65537,
             2**24, 2**28, 2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 10**40, -1, -2, -128,
             -(2**31), -(2**31) - 1, -(2**63)]
EDGE_JSON = [*EDGE_INTS, 0.5, -0.0, 1e308, 1e-308, "", "x" * 1000, None, True, False, [], {}, [[1]], [0, 0],
             [2**31, 2**31], [1, 1, 1]]
EDGE_TEXT = ["9" * 5000, "1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 40, "0.1e-400", "-0"]


def seeds() -> dict[str, bytes]:
    from nvcodec.encoder import encode_video
    from nvcodec.fit import FitConfig

    video = make_video(37, 23, frames=5)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in REGISTRY:
            encode_video(video, Path(tmp) / "s.nvc", model=name, params=3000, fit_config=FitConfig(epochs=1, quiet=True))
            out[name] = (Path(tmp) / "s.nvc").read_bytes()
    out["golden"] = (ROOT / "tests" / "data" / "golden.nvc").read_bytes()
    return out


def section(tag: bytes, payload: bytes) -> bytes:
    framed = tag + struct.pack("<I", len(payload)) + payload
    return framed + struct.pack("<I", zlib.crc32(framed))


def reframe(head: dict | bytes, tens: bytes, version: int = VERSION) -> bytes:
    """A file with valid framing and CRCs around whatever header and tensors we like."""
    head = head if isinstance(head, bytes) else json.dumps(head, separators=(",", ":")).encode()
    return MAGIC + bytes([version]) + section(b"HEAD", head) + section(b"TENS", tens)


# ---------------------------------------------------------------------------- the structure of a seed
def shapes_of(header: dict) -> list[tuple[int, ...]]:
    with torch.device("meta"):
        model = REGISTRY[header["model"]](header["config"], decoder_only=True)
    return [tuple(t.shape) for t in model.stored_tensors().values()]


def tensor_fields(tens: bytes, shapes: list[tuple[int, ...]]) -> list[tuple[str, int, int, str]]:
    """(field, start, end, encoding) of every field of every tensor record in TENS."""
    r = Reader(tens, "seed", "TENS")
    out = []

    def field(name: str, encoding: str, read: Callable[[], Any]) -> Any:
        start = r.pos
        value = read()
        out.append((name, start, r.pos, encoding))
        return value

    def words() -> None:
        n = field("nwords", "uvarint", lambda: r.uvarint(2**30))
        field("words", "bytes", lambda: r.take(4 * n))

    for shape in shapes:
        count = math.prod(shape)
        field("bits", "u8", r.u8)
        field("scales", "bytes", lambda: r.take(2 * scale_count(shape)))
        method = field("method", "u8", r.u8)
        if method == CONST:
            field("const", "svarint", r.svarint)
            continue
        field("min", "svarint", r.svarint)
        if method == RAW:
            nbits = field("raw-bits", "u8", r.u8)
            field("raw-codes", "bytes", lambda: r.take(-(-count * nbits // 8)))
        elif method == CATEGORICAL:
            nbins = field("bins", "uvarint", lambda: r.uvarint(2**20))
            for _ in range(nbins):
                field("bin-count", "uvarint", lambda: r.uvarint(2**30))
            words()
        elif method == LAPLACE:
            field("span", "uvarint", lambda: r.uvarint(2**20))
            field("centre", "svarint", r.svarint)
            field("scale-code", "u8", r.u8)
            words()
    return out


def encode_as(encoding: str, value: int, rng: random.Random) -> bytes:
    if encoding == "u8":
        return bytes([value % 256])
    if encoding == "uvarint":
        return uvarint(abs(value))
    return svarint(max(min(value, 2**62), -(2**62)))


def json_paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from json_paths(v, (*path, i))


def set_path(value: Any, path: tuple, new: Any) -> Any:
    """A copy of ``value`` with the item at ``path`` replaced (or deleted, when ``new`` is DELETE)."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    if len(path) == 1 and new is DELETE:
        del copy[path[0]]
    else:
        copy[path[0]] = set_path(copy[path[0]], path[1:], new)
    return copy


DELETE = object()


# ---------------------------------------------------------------------------- mutations
def blind(files: dict[str, bytes], rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """The systematic blind cases: every truncation, absurd headers, wrong section lengths."""
    for name, data in files.items():
        for n in range(len(data)):
            yield f"{name}:truncate", data[:n]
        c = read_container(data)
        absurd = [("width", 10**9), ("height", -1), ("frames", 2**31), ("fps", [0, 0]), ("model", "x" * 1000),
                  ("config", {}), ("config", {**c.header["config"], "frames": 10**6}),
                  ("config", {**c.header["config"], "strides": [8] * 8}),
                  ("config", {**c.header["config"], "out_size": [2**31, 2**31]})]
        for key, value in absurd:
            yield f"{name}:header-absurd", reframe({**c.header, key: value}, c.sections[b"TENS"])
        pos = data.index(b"TENS")
        yield f"{name}:section-longer-than-file", data[:pos + 4] + struct.pack("<I", 2**30) + data[pos + 8:]
        yield f"{name}:tens-garbage", reframe(c.header, bytes(rng.getrandbits(8) for _ in range(len(c.sections[b"TENS"]))))
        yield f"{name}:tens-empty", reframe(c.header, b"")


def random_case(name: str, data: bytes, structure: dict, rng: random.Random) -> tuple[str, bytes]:
    c, fields = structure["container"], structure["fields"]
    header, tens = c.header, c.sections[b"TENS"]
    kind = rng.choice(["flip", "random", "splice", "tens-flip", "header-value", "header-value", "header-text",
                       "field", "field", "field", "method", "ans-words", "version"])
    if kind == "flip":
        out = bytearray(data)
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "random":
        out = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(1, 2000)))
        if rng.random() < 0.5:
            out[:5] = MAGIC + bytes([VERSION])
        return kind, bytes(out)
    if kind == "splice":
        out = bytearray(data)
        a, b = sorted(rng.randrange(len(out)) for _ in range(2))
        out[a:b] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
        return kind, bytes(out)
    if kind == "tens-flip":
        out = bytearray(tens)
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
        return kind, reframe(header, bytes(out))
    if kind == "header-value":
        path = rng.choice(structure["paths"])
        new = DELETE if path and rng.random() < 0.1 else rng.choice(EDGE_JSON)
        if not path or new is DELETE and not path:
            return kind, reframe({**header, "extra": rng.choice(EDGE_JSON)}, tens)
        area = "config" if path[0] == "config" else "header"
        return f"{area}-value", reframe(set_path(header, path, new), tens)
    if kind == "header-text":  # numbers json.dumps cannot write: over-long, infinite, NaN
        text = json.dumps(header, separators=(",", ":"))
        numbers = [(m.start(), m.end()) for m in __import__("re").finditer(r"-?\d+(\.\d+)?", text)]
        a, b = rng.choice(numbers)
        return kind, reframe((text[:a] + rng.choice(EDGE_TEXT) + text[b:]).encode(), tens)
    if kind == "version":
        return kind, reframe(header, tens, rng.choice([0, 1, 3, 255]))
    if kind == "method":
        choices = [f for f in fields if f[0] == "method"]
        _, a, b, _ = rng.choice(choices)
        return kind, reframe(header, tens[:a] + bytes([rng.randrange(256)]) + tens[b:])
    if kind == "ans-words":
        choices = [f for f in fields if f[0] == "nwords"]
        if not choices:
            return "tens-flip", reframe(header, tens[:-1])
        _, a, b, _ = rng.choice(choices)
        n = Reader(tens[a:b], "", "").uvarint(2**30)
        start = b
        if rng.random() < 0.5:  # one word more, declared
            new = uvarint(n + 1) + tens[start:start + 4 * n] + struct.pack("<I", rng.getrandbits(32))
        else:  # one word fewer, declared
            new = uvarint(max(n - 1, 0)) + tens[start + 4:start + 4 * n]
        return kind, reframe(header, tens[:a] + new + tens[start + 4 * n:])
    name_, a, b, encoding = rng.choice([f for f in fields if f[3] != "bytes"])
    value = rng.choice(EDGE_INTS) if rng.random() < 0.8 else rng.randrange(-(2**20), 2**20)
    return f"field-{name_}", reframe(header, tens[:a] + encode_as(encoding, value, rng) + tens[b:])


MAY_DECODE = ("tens-flip", "header-value", "config-value", "header-text", "field-", "method", "ans-words")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000, help="random cases after the systematic ones")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    files = seeds()
    structures = {}
    for name, data in files.items():
        c = read_container(data)
        structures[name] = {"container": c, "fields": tensor_fields(c.sections[b"TENS"], shapes_of(c.header)),
                            "paths": list(json_paths(c.header))}
    keys = list(files)
    cases = list(blind(files, rng))
    counts: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    findings, slowest = [], (0.0, "")
    began = time.perf_counter()
    total = 0

    def generate() -> Iterator[tuple[str, bytes]]:
        yield from cases
        for i in range(args.cases):
            name = keys[i % len(keys)]
            kind, data = random_case(name, files[name], structures[name], rng)
            if data != files[name]:  # a splice can put back what it took out
                yield kind, data

    for kind, data in generate():
        total += 1
        t = time.perf_counter()
        try:
            decode_frames(data, max_memory=MEMORY_LIMIT)
            outcome = "decoded"
        except BitstreamError as e:
            outcome = "BitstreamError"
            if "please report" in str(e):
                outcome = "safety-net"
                findings.append((kind, str(e)[:300]))
        except Exception as e:  # noqa: BLE001 - any other exception is what we look for
            outcome = type(e).__name__
            findings.append((kind, repr(e)[:300]))
        elapsed = time.perf_counter() - t
        slowest = max(slowest, (elapsed, kind))
        if elapsed > 5:
            findings.append((kind, f"took {elapsed:.1f} s"))
        counts[outcome] = counts.get(outcome, 0) + 1
        family = kind.split(":")[-1]
        family = "field" if family.startswith("field-") else family
        by_kind.setdefault(family, {}).setdefault(outcome, 0)
        by_kind[family][outcome] += 1
        if outcome == "decoded" and not kind.split(":")[-1].startswith(MAY_DECODE):
            findings.append((kind, "damaged bytes decoded without an error"))
    from nvcodec.provenance import provenance

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"cases": total, "findings_count": len(findings), "outcomes": counts, "by_kind": by_kind,
              "findings": findings[:20], "slowest_s": round(slowest[0], 3), "slowest_kind": slowest[1],
              "peak_rss_mib": round(peak), "memory_limit_mib": MEMORY_LIMIT >> 20,
              "seconds": round(time.perf_counter() - began, 1), "seeds": {k: len(v) for k, v in files.items()},
              "provenance": provenance()}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
