"""A fuzzing campaign against the bitstream parser and decoder (longer than the test suite's).

    python bench/fuzz.py [--cases 100000] [--seed 0] [--json bench/results/fuzz.json]

Seeds, every format version and model: a real file per model in RGB (version 2; NIRVANA's indexed,
version 4; hinerv's, whose grid is coded predicted, version 5) and in yuv420 (version 3; NIRVANA's
version 4 and hinerv's version 5 with a yuv420 header), a NIRVANA file with a scene cut and two key
groups, each encoded by the real encoder (tiny, fitted for an epoch, so that its header and config
are what the encoder writes today), and tests/data/golden.nvc and golden-exact.nvc (whose tensors
use every coding method).

Blind mutations: every truncation, bit flips, random bytes, splices, absurd header values,
sections longer than the file. Structure-aware mutations, each written back with valid framing
and CRCs (tests/nvcfile.py) so that it reaches the parser behind the CRC check: a header or config
value set to an edge value (0, -1, 2^31, 10^40, a 5,000-digit number, 1e999, NaN, a wrong type, a
missing or extra key), a field of a tensor record (bits, method byte, minimum, raw width, histogram
bin count and counts, Laplace span, centre and scale code, ANS word count) re-encoded with an edge
value, ANS words added or removed, the format version changed, sections reordered, dropped or
repeated, the colorspace changed, a bit flipped inside the coded tensors. An edit inside TENS of an
indexed file resizes its chunk in the index (now and then it does not: a stale index). For indexed
files: the chunk index's count and sizes set to edge values, bytes moved between chunks, sizes
written as over-long varints, bytes after or missing from the index, chunks swapped or dropped, an
index added to or taken from a file; NIRVANA's group config (keys, cuts, group size, frames,
exact_pe) changed, and half the time TENS and the index regrouped to the chunk count the new config
implies (the seed's chunks repeated or cut), so that new group layouts decode. A case decodes a
random frame range now and then (random access: only the chunks those frames need).

A finding: any exception other than BitstreamError (or, for a frame range the damaged header no
longer holds, the InputError naming the range), a BitstreamError from the decoder's safety net
("please report it": a fault no check caught), a case slower than 5 s, frames of another shape
than the header says, or a blind mutation that decodes. Structure-aware mutations may decode (an
edge value can be a valid one); they must only never crash, hang or allocate past the limits.
Reports counts per kind and per seed, the slowest case and peak memory.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

from nvcodec.bitstream.container import MAGIC, READABLE_VERSIONS, Container, Reader, read_container, svarint, uvarint
from nvcodec.bitstream.decoder import decode_frames
from nvcodec.bitstream.entropy import CATEGORICAL, CONST, LAPLACE, RAW, scale_count
from nvcodec.errors import BitstreamError, InputError
from nvcodec.models import REGISTRY
from nvcodec.models.nirvana import group_starts

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import make_video  # noqa: E402
from nvcfile import framed, index_payload, model_chunks, nvc  # noqa: E402

MEMORY_LIMIT = 2 << 30  # the decoder's limit in every case, so outcomes do not depend on the machine
SLOW_S = 5.0
EDGE_INTS = [0, 1, 2, 3, 7, 8, 15, 16, 17, 24, 32, 127, 128, 255, 256, 4096, 32767, 32768, 65535, 65536, 65537,
             2**24, 2**28, 2**31 - 1, 2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 10**40, -1, -2, -128,
             -(2**31), -(2**31) - 1, -(2**63)]
EDGE_JSON = [*EDGE_INTS, 0.5, -0.0, 1e308, 1e-308, "", "x" * 1000, None, True, False, [], {}, [[1]], [0, 0],
             [2**31, 2**31], [1, 1, 1]]
EDGE_TEXT = ["9" * 5000, "1e999", "-1e999", "NaN", "Infinity", "1" + "0" * 40, "0.1e-400", "-0"]
DELETE = object()

#: options of a model's seeds (its group layout); every model in the registry gets an RGB and a yuv420 seed
SEED_OPTIONS = {"nirvana": {"group_size": 2, "key_every": 2}}
#: the encoded seeds: name -> (model, colorspace, frames, model options)
ENCODED = {**{f"{m}{'-yuv420' if c == 'yuv420' else ''}": (m, c, 5, dict(SEED_OPTIONS.get(m, {})))
              for c in ("rgb", "yuv420") for m in REGISTRY},
           "nirvana-cut": ("nirvana", "rgb", 8, {"group_size": 2, "cuts": [5], "key_every": 3})}
GOLDEN = ("golden.nvc", "golden-exact.nvc")


def seeds(names: Optional[list[str]] = None) -> dict[str, bytes]:
    """The seed files, encoded here by the real encoder (and the golden files from tests/data)."""
    from nvcodec.training.encoder import encode_video
    from nvcodec.training.fit import FitConfig

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, colorspace, frames, options) in ENCODED.items():
            if names is not None and name not in names:
                continue
            encode_video(make_video(37, 23, frames=frames), Path(tmp) / "s.nvc", model=model, params=3000,
                         colorspace=colorspace, model_options=dict(options),
                         fit_config=FitConfig(epochs=1, quiet=True))
            out[name] = (Path(tmp) / "s.nvc").read_bytes()
    for golden in GOLDEN:
        path = ROOT / "tests" / "data" / golden
        if path.exists() and (names is None or golden in names):
            out[golden.removesuffix(".nvc")] = path.read_bytes()
    return out


# ---------------------------------------------------------------------------- the structure of a seed
@dataclass
class Seed:
    name: str
    data: bytes
    container: Container
    version: int
    #: (field, start, end, encoding, chunk) of every field of every tensor record in TENS
    fields: list[tuple[str, int, int, str, int]]
    paths: list[tuple]  # every path into the header's JSON
    chunk_bytes: list[bytes]  # TENS cut into its chunks (one chunk without an index)

    @property
    def header(self) -> dict[str, Any]:
        return self.container.header

    @property
    def tens(self) -> bytes:
        return self.container.sections[b"TENS"]

    @property
    def indexed(self) -> bool:
        return self.container.chunks is not None

    @property
    def nirvana(self) -> bool:
        return self.header["model"] == "nirvana"


def analyse(name: str, data: bytes) -> Seed:
    c = read_container(data, name)
    chunks = model_chunks(c.header)
    fields = tensor_fields(c.sections[b"TENS"], chunks)
    spans = c.chunk_spans()
    return Seed(name, data, c, data[4], fields, list(json_paths(c.header)),
                [c.sections[b"TENS"][a:b] for a, b in spans])


def tensor_fields(tens: bytes, chunks: list[list[tuple[int, ...]]]) -> list[tuple[str, int, int, str, int]]:
    """(field, start, end, encoding, chunk) of every field of every tensor record in TENS."""
    r = Reader(tens, "seed", "TENS")
    out = []
    chunk = 0

    def field(name: str, encoding: str, read: Callable[[], Any]) -> Any:
        start = r.pos
        value = read()
        out.append((name, start, r.pos, encoding, chunk))
        return value

    def words() -> None:
        n = field("nwords", "uvarint", lambda: r.uvarint(2**30))
        field("words", "bytes", lambda: r.take(4 * n))

    for chunk, shapes in enumerate(chunks):
        for shape in shapes:
            count = math.prod(shape)
            field("bits", "u8", r.u8)
            field("scales", "bytes", lambda: r.take(2 * scale_count(shape)))
            method = field("method", "u8", r.u8) & 15  # the high four bits: a predictor (version 5)
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
    assert r.done(), "the seed's tensors were not all read"
    return out


def encode_as(encoding: str, value: int) -> bytes:
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


# ---------------------------------------------------------------------------- writing cases back
def write(s: Seed, header: dict | bytes, chunks: Optional[list[bytes]] = None, version: Optional[int] = None,
          sizes: Optional[list[int]] = None) -> bytes:
    """A CRC-valid file: ``header``, TENS of ``chunks`` (default the seed's), indexed as the seed is
    (``sizes``: an index that need not match), in the seed's format version unless told."""
    chunks = s.chunk_bytes if chunks is None else chunks
    version = s.version if version is None else version
    if not s.indexed:
        return nvc(header, b"".join(chunks), version)
    return nvc(header, b"".join(chunks), version, [len(c) for c in chunks] if sizes is None else sizes)


def edit_tens(s: Seed, header: dict | bytes, a: int, b: int, new: bytes, rng: random.Random) -> bytes:
    """TENS with bytes a:b replaced; in an indexed file the chunk holding them is resized in the
    index, but one time in ten the index is left as it was (it no longer adds up)."""
    spans = s.container.chunk_spans()
    c = next(i for i, (lo, hi) in enumerate(spans) if lo <= a < hi or (a == hi and i == len(spans) - 1))
    lo, _ = spans[c]
    chunks = list(s.chunk_bytes)
    chunks[c] = chunks[c][:a - lo] + new + chunks[c][b - lo:]
    stale = s.indexed and rng.random() < 0.1
    return write(s, header, chunks, sizes=s.container.chunks if stale else None)


def overlong(value: int, extra: int) -> bytes:
    """``value`` as a varint padded with ``extra`` continuation bytes of zeros (over-long)."""
    enc = bytearray(uvarint(value))
    enc[-1] |= 0x80
    return bytes(enc) + b"\x80" * (extra - 1) + b"\x00"


# ---------------------------------------------------------------------------- mutations
def blind(files: dict[str, Seed], rng: random.Random, every: int = 1) -> Iterator[tuple[str, str, bytes]]:
    """The systematic blind cases: every truncation (every ``every``-th), absurd headers, wrong
    section lengths."""
    for name, s in files.items():
        data = s.data
        for n in range(0, len(data), every):
            yield name, "truncate", data[:n]
        config = s.header["config"]
        absurd = [("width", 10**9), ("height", -1), ("frames", 2**31), ("fps", [0, 0]), ("model", "x" * 1000),
                  ("config", {}), ("config", {**config, "frames": 10**6}),
                  ("config", {**config, "strides": [8] * 8}),
                  ("config", {**config, "out_size": [2**31, 2**31]})]
        if s.nirvana:
            absurd += [("config", {**config, "group_size": 0}), ("config", {**config, "keys": []}),
                       ("config", {**config, "keys": list(range(5000))}), ("config", {**config, "patch": 3}),
                       ("config", {**config, "cuts": [0]})]
        for key, value in absurd:
            yield name, "header-absurd", write(s, {**s.header, key: value})
        pos = data.index(b"TENS")
        yield name, "section-longer-than-file", data[:pos + 4] + (2**30).to_bytes(4, "little") + data[pos + 8:]
        garbage = [bytes(rng.getrandbits(8) for _ in range(len(c))) for c in s.chunk_bytes]
        yield name, "tens-garbage", write(s, s.header, garbage)
        yield name, "tens-empty", write(s, s.header, [b""] * len(s.chunk_bytes))


KINDS = ["flip", "random", "splice", "tens-flip", "header-value", "header-value", "header-text", "field", "field",
         "field", "method", "ans-words", "version", "section-order", "colorspace", "reindex"]
INDEXED_KINDS = ["index", "index", "index", "group-config", "group-config", "group-config"]


def random_case(s: Seed, rng: random.Random) -> tuple[str, bytes]:
    header, tens, fields = s.header, s.tens, s.fields
    kind = rng.choice(KINDS + (INDEXED_KINDS if s.indexed else []))
    if kind == "group-config" and not s.nirvana:
        kind = "index"
    if kind == "flip":
        out = bytearray(s.data)
        pos = rng.randrange(len(out))
        out[pos] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "random":
        out = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(1, 2000)))
        if rng.random() < 0.5:
            out[:5] = MAGIC + bytes([rng.choice(READABLE_VERSIONS)])
        return kind, bytes(out)
    if kind == "splice":
        out = bytearray(s.data)
        a, b = sorted(rng.randrange(len(out)) for _ in range(2))
        out[a:b] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
        return kind, bytes(out)
    if kind == "tens-flip":
        pos = rng.randrange(len(tens))
        return kind, edit_tens(s, header, pos, pos + 1, bytes([tens[pos] ^ (1 << rng.randrange(8))]), rng)
    if kind == "header-value":
        path = rng.choice(s.paths)
        new = DELETE if path and rng.random() < 0.1 else rng.choice(EDGE_JSON)
        if not path:
            return kind, write(s, {**header, "extra": rng.choice(EDGE_JSON)})
        area = "config" if path[0] == "config" else "header"
        return f"{area}-value", write(s, set_path(header, path, new))
    if kind == "header-text":  # numbers json.dumps cannot write: over-long, infinite, NaN
        text = json.dumps(header, separators=(",", ":"))
        numbers = [(m.start(), m.end()) for m in re.finditer(r"-?\d+(\.\d+)?", text)]
        a, b = rng.choice(numbers)
        return kind, write(s, (text[:a] + rng.choice(EDGE_TEXT) + text[b:]).encode())
    if kind == "version":  # the same sections under another version byte: always refused (version 5
        # reads what 2 and 3 write, so those seeds are not relabelled 5: that would decode)
        return kind, write(s, header, version=rng.choice([v for v in (0, 1, 2, 3, 4, 5, 6, 255) if v != s.version
                                                          and not (v == 5 and s.version in (2, 3))]))
    if kind == "section-order":
        return kind, section_order(s, rng)
    if kind == "colorspace":  # another colorspace, in the seed's version or in the one it would need
        new = rng.choice(["rgb", "yuv420", DELETE, "yuv444", "YUV420", ""])
        changed = {k: v for k, v in header.items() if k != "colorspace"} if new is DELETE else {**header, "colorspace": new}
        if rng.random() < 0.5 and not s.indexed:
            return kind, nvc(changed, tens)
        return kind, write(s, changed)
    if kind == "reindex":
        return kind, reindex(s, rng)
    if kind == "index":
        return index_case(s, rng)
    if kind == "group-config":
        return kind, group_config(s, rng)
    if kind == "method":
        _, a, b, _, _ = rng.choice([f for f in fields if f[0] == "method"])
        return kind, edit_tens(s, header, a, b, bytes([rng.randrange(256)]), rng)
    if kind == "ans-words":
        choices = [f for f in fields if f[0] == "nwords"]
        if not choices:
            return "tens-flip", edit_tens(s, header, len(tens) - 1, len(tens), b"", rng)
        _, a, b, _, _ = rng.choice(choices)
        n = Reader(tens[a:b], "", "").uvarint(2**30)
        if rng.random() < 0.5:  # one word more, declared
            new = uvarint(n + 1) + tens[b:b + 4 * n] + rng.getrandbits(32).to_bytes(4, "little")
        else:  # one word fewer, declared
            new = uvarint(max(n - 1, 0)) + tens[b + 4:b + 4 * n]
        return kind, edit_tens(s, header, a, b + 4 * n, new, rng)
    name_, a, b, encoding, _ = rng.choice([f for f in fields if f[3] != "bytes"])
    value = rng.choice(EDGE_INTS) if rng.random() < 0.8 else rng.randrange(-(2**20), 2**20)
    return f"field-{name_}", edit_tens(s, header, a, b, encode_as(encoding, value), rng)


def section_order(s: Seed, rng: random.Random) -> bytes:
    """Sections out of order, missing or repeated, each CRC-valid: always refused."""
    head = json.dumps(s.header, separators=(",", ":")).encode()
    index = index_payload(s.container.chunks if s.indexed else [len(s.tens)])
    h, i, t = (b"HEAD", head), (b"INDX", index), (b"TENS", s.tens)
    orders = [[t, h], [h, h, t], [h], [t], [h, t, t], [i, h, t], [h, t, i], [t, i, h]]
    orders += [[h, i, i, t], [h, i, t, t], [h, i], [h, t]] if s.indexed else [[h, i, t]]
    return framed(s.version, rng.choice(orders))


def reindex(s: Seed, rng: random.Random) -> bytes:
    """An index given to a file without one (version 4: one chunk decodes; more do not match the
    model), or taken from one that has it."""
    tens = s.tens
    if not s.indexed:
        cut = rng.randrange(len(tens) + 1)
        return nvc(s.header, tens, 4, rng.choice([[len(tens)], [len(tens)], [cut, len(tens) - cut], [0, len(tens)]]))
    version = rng.choice([2, 3, 4])
    if version == 4:  # one chunk for a model of several
        return nvc(s.header, tens, 4, [len(tens)])
    return nvc(s.header, tens, version)


def index_case(s: Seed, rng: random.Random) -> tuple[str, bytes]:
    """The chunk index lying about the chunks (or the chunks rearranged under a true index)."""
    sizes, chunks = list(s.container.chunks), list(s.chunk_bytes)
    n = len(sizes)
    sub = rng.choice(["count", "size", "shift", "overlong", "trailing", "truncate", "swap", "drop", "garbage"])
    payload = None
    if sub == "count":
        payload = index_payload(sizes, rng.choice([0, n - 1, n + 1, 2 * n, 4096, 4097, *EDGE_INTS[10:24]]))
    elif sub == "size":
        i = rng.randrange(n)
        sizes[i] = abs(rng.choice(EDGE_INTS)) if rng.random() < 0.7 else max(sizes[i] + rng.randrange(-8, 9), 0)
    elif sub == "shift":  # the sizes still add up, but a chunk boundary moves
        i = rng.randrange(n - 1)
        k = rng.randrange(1, 17) * rng.choice([-1, 1])
        k = max(min(k, sizes[i + 1]), -sizes[i])
        sizes[i] += k
        sizes[i + 1] -= k
    elif sub == "overlong":
        i = rng.randrange(n)
        enc = [uvarint(v) for v in [n, *sizes]]
        enc[1 + i if rng.random() < 0.8 else 0] = overlong([n, *sizes][1 + i], rng.randrange(1, 6))
        payload = b"".join(enc)
    elif sub == "trailing":
        payload = index_payload(sizes) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 5)))
    elif sub == "truncate":
        full = index_payload(sizes)
        payload = full[:rng.randrange(len(full))]
    elif sub == "garbage":
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 3 * n + 3)))
    elif sub == "swap":  # a true index of rearranged chunks: another video, which may decode
        i, j = rng.sample(range(n), 2)
        chunks[i], chunks[j] = chunks[j], chunks[i]
        sizes = [len(c) for c in chunks]
    elif sub == "drop":
        i = rng.randrange(n)
        if rng.random() < 0.5:  # from TENS and the index: one chunk too few
            del chunks[i]
            sizes = [len(c) for c in chunks]
        else:  # from the index only: it no longer adds up
            del sizes[i]
    tens = b"".join(chunks)
    return f"index-{sub}", nvc(s.header, tens, s.version, payload if payload is not None else sizes)


def group_config(s: Seed, rng: random.Random) -> bytes:
    """NIRVANA's group layout changed (keys, cuts, group size, frames, exact_pe); half the time
    TENS and the index are regrouped to the chunk count the new layout implies (the seed's
    chunks repeated or cut), so that the file may decode to a new layout."""
    header = dict(s.header)
    config = dict(header["config"])
    frames, size = config["frames"], config["group_size"]
    groups = len(group_starts(frames, size, config.get("cuts", [])))
    what = rng.choice(["keys", "keys", "cuts", "cuts", "group_size", "frames", "frames", "exact_pe", "drop"])
    if what == "keys":
        valid = [0, *sorted(rng.sample(range(1, groups), rng.randrange(groups)))] if groups > 1 else [0]
        config["keys"] = rng.choice([valid, valid, valid, [], [1], [0, 0], [0, groups], [0, groups - 1, 1][:max(groups, 2)],
                                     [0, 2**31], ["0"], 0, list(range(groups + 1)), [0.0], [True]])
    elif what == "cuts":
        valid = sorted(rng.sample(range(1, frames), min(rng.randrange(1, 3), frames - 1))) if frames > 1 else []
        new = rng.choice([valid, valid, valid, [0], [frames], [3, 2], [2, 2], [], DELETE, [1.5], list(range(1, frames))])
        config = {k: v for k, v in config.items() if k != "cuts"} if new is DELETE else {**config, "cuts": new}
    elif what == "group_size":
        config["group_size"] = rng.choice([1, size - 1, size + 1, frames, frames + 1, 0, 2 * size])
    elif what == "frames":
        new = rng.choice([1, frames - 1, frames + 1, frames + size, 2 * frames, 3 * frames, 10**6, 0])
        config["frames"] = new
        if rng.random() < 0.8:
            header["frames"] = new
    elif what == "exact_pe":
        new = rng.choice([0, 1, 2, -1, True, "1", 1.0, DELETE])
        config = {k: v for k, v in config.items() if k != "exact_pe"} if new is DELETE else {**config, "exact_pe": new}
    else:
        drop = rng.choice([k for k in ("group_size", "keys", "cuts", "patch", "frames") if k in config])
        config = {k: v for k, v in config.items() if k != drop}
    header["config"] = config
    chunks = list(s.chunk_bytes)
    if rng.random() < 0.5:
        try:
            new_groups = len(group_starts(int(config["frames"]), int(config["group_size"]), list(config.get("cuts", []))))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            new_groups = None
        if new_groups is not None and 1 <= new_groups <= 4096:
            chunks = [chunks[min(g, len(chunks) - 1)] for g in range(new_groups)]
            keys = config.get("keys")
            if isinstance(keys, list) and rng.random() < 0.8:  # keys the new layout holds
                config["keys"] = [k for k in keys if not isinstance(k, int) or k < new_groups] or [0]
    return write(s, header, chunks)


MAY_DECODE = ("tens-flip", "header-value", "config-value", "header-text", "field-", "method", "ans-words", "index-",
              "reindex", "group-config", "colorspace")


# ---------------------------------------------------------------------------- the campaign
def frames_asked(data: bytes, s: Seed, rng: random.Random) -> Optional[tuple[int, int]]:
    """Now and then a frame range of the seed's video (random access), else None (every frame)."""
    if rng.random() >= 0.15:
        return None
    frames = s.header["frames"]
    a = rng.randrange(frames)
    return a, rng.randrange(a + 1, frames + 1)


def shape_expected(data: bytes, frames: Optional[tuple[int, int]]) -> Optional[tuple[int, ...]]:
    try:
        h = read_container(data).header
    except BitstreamError:
        return None
    n = h["frames"] if frames is None else frames[1] - frames[0]
    return n, h["height"], h["width"], 3


def campaign(files: dict[str, bytes], cases: int, seed: int = 0,
             decode: Callable[..., np.ndarray] = decode_frames, truncate_every: int = 1) -> dict[str, Any]:
    """Run the systematic cases and ``cases`` random ones over ``files``; the report (no provenance).
    ``truncate_every``: only every that many truncations (the tests' short campaigns)."""
    with one_thread():
        return _campaign(files, cases, seed, decode, truncate_every)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny files render fastest on one thread, which spins on no core another process shares."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _campaign(files: dict[str, bytes], cases: int, seed: int, decode: Callable[..., np.ndarray],
              truncate_every: int) -> dict[str, Any]:
    rng = random.Random(seed)
    structures = {name: analyse(name, data) for name, data in files.items()}
    keys = list(files)
    counts: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    by_seed: dict[str, dict[str, int]] = {}
    findings, slowest = [], (0.0, "")
    began = time.perf_counter()
    total = ranged = 0

    def generate() -> Iterator[tuple[str, str, bytes]]:
        yield from blind(structures, rng, truncate_every)
        for i in range(cases):
            name = keys[i % len(keys)]
            kind, data = random_case(structures[name], rng)
            if data != files[name]:  # a splice can put back what it took out
                yield name, kind, data

    for name, kind, data in generate():
        total += 1
        frames = frames_asked(data, structures[name], rng)
        ranged += frames is not None
        t = time.perf_counter()
        try:
            out = decode(data, frames=frames, max_memory=MEMORY_LIMIT)
            outcome = "decoded"
            expected = shape_expected(data, frames)
            if tuple(out.shape) != expected:
                findings.append((name, kind, f"decoded to frames of shape {tuple(out.shape)}, the header says {expected}"))
        except BitstreamError as e:
            outcome = "BitstreamError"
            if "please report" in str(e):
                outcome = "safety-net"
                findings.append((name, kind, str(e)[:300]))
        except InputError as e:
            outcome = "InputError"
            if frames is None or "outside the video" not in str(e):
                findings.append((name, kind, repr(e)[:300]))
        except Exception as e:  # noqa: BLE001 - any other exception is what we look for
            outcome = type(e).__name__
            findings.append((name, kind, repr(e)[:300]))
        elapsed = time.perf_counter() - t
        slowest = max(slowest, (elapsed, f"{name}:{kind}"))
        if elapsed > SLOW_S:
            findings.append((name, kind, f"took {elapsed:.1f} s"))
        counts[outcome] = counts.get(outcome, 0) + 1
        family = "field" if kind.startswith("field-") else kind
        by_kind.setdefault(family, {}).setdefault(outcome, 0)
        by_kind[family][outcome] += 1
        by_seed.setdefault(name, {}).setdefault(outcome, 0)
        by_seed[name][outcome] += 1
        if outcome == "decoded" and not kind.startswith(MAY_DECODE):
            findings.append((name, kind, "damaged bytes decoded without an error"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cases": total, "findings_count": len(findings), "outcomes": counts, "by_kind": by_kind,
            "by_seed": by_seed, "frame_ranges": ranged, "findings": findings[:20],
            "slowest_s": round(slowest[0], 3), "slowest_kind": slowest[1], "peak_rss_mib": round(peak),
            "memory_limit_mib": MEMORY_LIMIT >> 20, "seconds": round(time.perf_counter() - began, 1),
            "seeds": {k: {"bytes": len(v), "version": v[4], "model": structures[k].header["model"],
                          "colorspace": structures[k].header.get("colorspace", "rgb"),
                          "chunks": len(structures[k].chunk_bytes)} for k, v in files.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000, help="random cases after the systematic ones")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args()
    began = time.perf_counter()
    torch.set_num_threads(1)  # the seeds' bytes do not depend on the machine's cores
    files = seeds()
    report = campaign(files, args.cases, args.seed)
    from nvcodec.rd.provenance import provenance

    report["seconds_with_seeds"] = round(time.perf_counter() - began, 1)
    report["provenance"] = provenance()
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
