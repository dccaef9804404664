"""A fuzzing campaign against the bitstream parser and decoder (longer than the test suite's).

    python bench/fuzz.py [--cases 20000] [--seed 0]

Starting from real files (one per model, tiny), it feeds the decoder: every truncation, single-bit
flips at random positions in every section, random bytes, header fields set to absurd values
(width 10^9, 2^31 parameters, sections longer than the file), and random byte splices. Every case
must end in BitstreamError: any other exception, a case slower than 5 s, or a decode that
succeeds on damaged bytes is a finding -- except "tens-flip" cases, which flip a bit inside the
coded tensors and then write a correct CRC: any ANS word decodes to some values, so those may
decode (to other weights), and must only never crash, hang or allocate past the limits. Reports counts, the slowest case and peak memory.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

from nvcodec.bitstream import MAGIC, read_container
from nvcodec.decoder import decode_frames
from nvcodec.encoder import encode_video
from nvcodec.errors import BitstreamError
from nvcodec.fit import FitConfig
from nvcodec.models import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import make_video  # noqa: E402


def seeds() -> dict[str, bytes]:
    video = make_video(37, 23, frames=5)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in REGISTRY:
            encode_video(video, Path(tmp) / "s.nvc", model=name, params=3000, fit_config=FitConfig(epochs=1, quiet=True))
            out[name] = (Path(tmp) / "s.nvc").read_bytes()
    return out


def reframe(header: dict, tens: bytes) -> bytes:
    """A file with a CRC-valid header that says whatever we like (write_container would refuse it)."""
    head = json.dumps(header).encode()
    def section(tag, payload):
        framed = tag + struct.pack("<I", len(payload)) + payload
        return framed + struct.pack("<I", zlib.crc32(framed))
    return MAGIC + b"\x01" + section(b"HEAD", head) + section(b"TENS", tens)


def mutants(files: dict[str, bytes], rng: random.Random, budget: int):
    for name, data in files.items():
        for n in range(len(data)):
            yield f"{name}:truncate", data[:n]
        c = read_container(data)
        absurd = [("width", 10**9), ("height", -1), ("frames", 2**31), ("fps", [0, 0]), ("model", "x" * 1000),
                  ("config", {}), ("config", {**c.header["config"], "channels": [4096] * len(c.header["config"]["channels"])}),
                  ("config", {**c.header["config"], "frames": 10**6}), ("config", {**c.header["config"], "strides": [8] * 8}),
                  ("config", {**c.header["config"], "out_size": [2**31, 2**31]})]
        for key, value in absurd:
            yield f"{name}:header-{key}", reframe({**c.header, key: value}, c.sections[b"TENS"])
        yield f"{name}:section-longer-than-file", data[:data.index(b"TENS") + 4] + struct.pack("<I", 2**30) + data[data.index(b"TENS") + 8:]
        yield f"{name}:tens-garbage", reframe(c.header, bytes(rng.getrandbits(8) for _ in range(len(c.sections[b"TENS"]))))
        yield f"{name}:tens-empty", reframe(c.header, b"")
    keys = list(files)
    for i in range(budget):
        data = bytearray(files[keys[i % len(keys)]])
        kind = rng.choice(["flip", "flip", "random", "splice", "tens-flip"])
        if kind == "flip":
            pos = rng.randrange(len(data))
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == "random":
            data = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(1, 2000)))
            if rng.random() < 0.5:
                data[:5] = MAGIC + b"\x01"
        elif kind == "splice":
            a, b = sorted(rng.randrange(len(data)) for _ in range(2))
            data[a:b] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
        else:  # flip inside TENS, then fix the CRC: reaches the entropy decoder itself
            c = read_container(bytes(data))
            tens = bytearray(c.sections[b"TENS"])
            if tens:
                pos = rng.randrange(len(tens))
                tens[pos] ^= 1 << rng.randrange(8)
            data = bytearray(reframe(c.header, bytes(tens)))
        if bytes(data) != files[keys[i % len(keys)]]:  # a splice can put back what it took out
            yield f"{kind}", bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000, help="random cases after the systematic ones")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    files = seeds()
    counts: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    findings, slowest = [], (0.0, "")
    began = time.perf_counter()
    total = 0
    for kind, data in mutants(files, rng, args.cases):
        total += 1
        t = time.perf_counter()
        try:
            decode_frames(data)
            outcome = "decoded"  # legal only if the mutation left a valid file (a CRC collision, or a no-op)
        except BitstreamError:
            outcome = "BitstreamError"
        except Exception as e:  # noqa: BLE001 - any other exception is what we look for
            outcome = f"{type(e).__name__}"
            findings.append((kind, repr(e)[:200]))
        elapsed = time.perf_counter() - t
        slowest = max(slowest, (elapsed, kind))
        if elapsed > 5:
            findings.append((kind, f"took {elapsed:.1f} s"))
        counts[outcome] = counts.get(outcome, 0) + 1
        family = kind.split(":")[-1]
        by_kind.setdefault(family, {}).setdefault(outcome, 0)
        by_kind[family][outcome] += 1
        if outcome == "decoded" and family != "tens-flip":
            findings.append((kind, "damaged bytes decoded without an error"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"cases": total, "outcomes": counts, "by_kind": by_kind, "findings": findings[:20], "slowest_s": round(slowest[0], 3),
              "slowest_kind": slowest[1], "peak_rss_mib": round(peak), "seconds": round(time.perf_counter() - began, 1),
              "command": "python bench/fuzz.py " + " ".join(sys.argv[1:])}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
