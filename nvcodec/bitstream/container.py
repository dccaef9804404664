"""The .nvc container: bytes in, bytes out (no torch here).

    file    = magic "NVC" 0x89 | version u8 | section* (nothing after the last one)
    section = tag (4 ASCII bytes) | length u32 LE | payload | CRC32 u32 LE of tag+length+payload

Sections, in this order: HEAD (the header, UTF-8 JSON), INDX (version 4 only: where each chunk of
tensors, NIRVANA's groups, starts in TENS) and TENS (the coded tensors). Every size
is checked against LIMITS before anything is allocated; any fault is a BitstreamError. The
format is documented byte by byte in docs/bitstream.md.
"""
from __future__ import annotations

import itertools
import json
import math
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional

from ..errors import BitstreamError

MAGIC = b"NVC\x89"
#: 2: entropy models are integer tables (exact on any machine), ANS streams must be used up exactly.
#: 1 (before): Laplace/Gaussian models evaluated in floating point; no longer read.
#: 3: the header may say "colorspace": "yuv420" (a model that renders yuv420p planes); only such
#: files are written as version 3, so RGB files stay readable by version-2 decoders.
#: 4: an INDX section between HEAD and TENS gives each chunk of tensors' size, so that a decoder
#: can skip to the chunks some frames need (random access); only models of several chunks
#: (nirvana) write it, so other files keep their version.
#: 5: a tensor in TENS may be coded predicted (entropy.PREDICT_AXIS1: the feature-grid model's
#: slices as differences from the slice before); only files holding such a tensor are written
#: as version 5, in any colorspace, without INDX.
VERSION = 2
VERSION_YUV420 = 3
VERSION_INDEXED = 4
VERSION_PREDICTED = 5
READABLE_VERSIONS = (VERSION, VERSION_YUV420, VERSION_INDEXED, VERSION_PREDICTED)
MAX_NUMBER_CHARS = 32  # a JSON number longer than this is refused before it is converted
SECTION_ORDER = (b"HEAD", b"TENS")
INDEXED_SECTION_ORDER = (b"HEAD", b"INDX", b"TENS")

LIMITS = {
    "width": 16384,
    "height": 16384,
    "frames": 1_000_000,
    "parameters": 256 * 1024 * 1024,  # stored values, all tensors together
    "tensors": 4096,
    "tensor_dims": 6,
    "header_bytes": 64 * 1024,
    "section_bytes": 1024 * 1024 * 1024,
    "bits": 16,
    "histogram_bins": 65537,
}

COLORSPACES = ("rgb", "yuv420")
HEADER_KEYS = {"model": str, "config": dict, "width": int, "height": int, "frames": int,
               "fps": list, "matrix": str, "range": str}


@dataclass
class Container:
    header: dict[str, Any]
    sections: dict[bytes, bytes]  # payloads by tag
    section_sizes: dict[str, int]  # bytes on disk by tag, framing included
    total_bytes: int
    #: version 4: the byte size of each chunk of TENS, in order (they add up to TENS); else None
    chunks: Optional[list[int]] = None
    #: version 5: TENS may hold predicted tensors
    predictors: bool = False

    def chunk_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each chunk in TENS (one chunk, the whole of it, without an index)."""
        sizes = self.chunks if self.chunks is not None else [len(self.sections[b"TENS"])]
        ends = list(itertools.accumulate(sizes))
        return [(end - size, end) for size, end in zip(sizes, ends)]


def write_container(header: dict[str, Any], tensors: bytes, chunks: Optional[list[int]] = None,
                    predicted: bool = False) -> bytes:
    """The bytes of one .nvc file; ``chunks`` (the byte size of each run of tensors, adding up to
    ``tensors``) writes an index of them (version 4); ``predicted``: ``tensors`` holds a
    predicted tensor (version 5)."""
    check_header(header, "header")
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    if chunks is not None:
        if predicted:
            raise ValueError("a file with predicted tensors has no group index (format version 5)")
        if sum(chunks) != len(tensors) or any(c < 0 for c in chunks):
            raise ValueError("chunk sizes do not add up to the tensors")
        index = uvarint(len(chunks)) + b"".join(uvarint(c) for c in chunks)
        return (MAGIC + bytes([VERSION_INDEXED]) + _section(b"HEAD", head) + _section(b"INDX", index)
                + _section(b"TENS", tensors))
    if predicted:
        version = VERSION_PREDICTED
    else:
        version = VERSION if header.get("colorspace", "rgb") == "rgb" else VERSION_YUV420
    return MAGIC + bytes([version]) + _section(b"HEAD", head) + _section(b"TENS", tensors)


def _section(tag: bytes, payload: bytes) -> bytes:
    framed = tag + struct.pack("<I", len(payload)) + payload
    return framed + struct.pack("<I", zlib.crc32(framed))


def read_container(data: bytes, name: str = "bitstream") -> Container:
    """Parse and validate a .nvc file's bytes; ``name`` (the file) goes into the errors."""
    data = memoryview(data)
    if len(data) < 5 or bytes(data[:4]) != MAGIC:
        raise BitstreamError(f"{name}: not an nvcodec bitstream (bad magic)")
    if data[4] not in READABLE_VERSIONS:
        hint = "; re-encode it with this version" if data[4] < VERSION else "; use a newer nvcodec"
        raise BitstreamError(f"{name}: format version {data[4]} is not supported (this decoder reads "
                             f"versions {', '.join(map(str, READABLE_VERSIONS))}){hint}")
    pos, sections, sizes = 5, {}, {}
    indexed = data[4] == VERSION_INDEXED
    for tag in INDEXED_SECTION_ORDER if indexed else SECTION_ORDER:
        if pos + 8 > len(data):
            raise BitstreamError(f"{name}: truncated (section {tag.decode()} missing)")
        got = bytes(data[pos:pos + 4])
        if got != tag:
            raise BitstreamError(f"{name}: expected section {tag.decode()} at byte {pos}, found {got!r}")
        (length,) = struct.unpack_from("<I", data, pos + 4)
        limit = LIMITS["header_bytes"] if tag in (b"HEAD", b"INDX") else LIMITS["section_bytes"]
        if length > limit:
            raise BitstreamError(f"{name}: section {tag.decode()} declares {length} bytes (limit {limit})")
        end = pos + 8 + length
        if end + 4 > len(data):
            raise BitstreamError(f"{name}: truncated in section {tag.decode()} "
                                 f"({len(data)} bytes, section needs {end + 4})")
        (crc,) = struct.unpack_from("<I", data, end)
        if zlib.crc32(data[pos:end]) != crc:
            raise BitstreamError(f"{name}: section {tag.decode()} is corrupted (CRC32 mismatch)")
        sections[tag] = bytes(data[pos + 8:end])
        sizes[tag.decode()] = end + 4 - pos
        pos = end + 4
    if pos != len(data):
        raise BitstreamError(f"{name}: {len(data) - pos} unexpected bytes after the last section")
    header = parse_header(sections[b"HEAD"], name)
    check_header(header, name)
    if data[4] in (VERSION, VERSION_YUV420) and (header.get("colorspace", "rgb") != "rgb") != (data[4] == VERSION_YUV420):
        raise BitstreamError(f"{name}: format version {data[4]} does not match its colorspace "
                             f"{header.get('colorspace', 'rgb')!r} (yuv420 files are version {VERSION_YUV420})")
    chunks = parse_index(sections[b"INDX"], len(sections[b"TENS"]), name) if indexed else None
    return Container(header, sections, sizes, len(data), chunks, data[4] == VERSION_PREDICTED)


def parse_index(payload: bytes, tensor_bytes: int, name: str) -> list[int]:
    """INDX: a count, then each chunk's size in bytes; they must add up to TENS exactly."""
    reader = Reader(payload, name, "section INDX (the group offset table)")
    count = reader.uvarint(LIMITS["tensors"])
    if count < 1:
        raise reader.fail("lists no chunks")
    sizes = [reader.uvarint(tensor_bytes) for _ in range(count)]
    if not reader.done():
        raise reader.fail(f"has {len(payload) - reader.pos} bytes after its last entry")
    if sum(sizes) != tensor_bytes:
        raise reader.fail(f"adds up to {sum(sizes)} bytes, but section TENS holds {tensor_bytes}")
    return sizes


def _number(kind: type):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError(f"a number of {len(text)} characters")
        value = kind(text)
        if not math.isfinite(value):
            raise ValueError(f"number {text} is not finite")
        return value
    return parse


def _no_constant(text: str):
    raise ValueError(f"{text} is not a JSON number")


def parse_header(payload: bytes, name: str) -> Any:
    """The header's JSON; numbers longer than MAX_NUMBER_CHARS, NaN and infinities are refused
    before Python converts them (a 5,000-digit integer is not a header)."""
    try:
        return json.loads(payload.decode("utf-8"), parse_int=_number(int), parse_float=_number(float),
                          parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BitstreamError(f"{name}: header is not valid JSON") from None
    except ValueError as e:
        raise BitstreamError(f"{name}: header holds {e}, not a valid field") from None


def check_header(header: Any, name: str) -> None:
    """Types and limits of every header field."""
    if not isinstance(header, dict):
        raise BitstreamError(f"{name}: header is not a JSON object")
    for key, kind in HEADER_KEYS.items():
        if not isinstance(header.get(key), kind) or isinstance(header.get(key), bool):
            raise BitstreamError(f"{name}: header field {key!r} is missing or not a {kind.__name__}")
    for key in ("width", "height", "frames"):
        if not 1 <= header[key] <= LIMITS[key]:
            raise BitstreamError(f"{name}: {key} {header[key]} is outside 1..{LIMITS[key]}")
    fps = header["fps"]
    if len(fps) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31 for v in fps):
        raise BitstreamError(f"{name}: fps {fps!r} is not a pair of positive integers")
    if header["matrix"] not in ("bt601", "bt709", "bt2020") or header["range"] not in ("tv", "pc"):
        raise BitstreamError(f"{name}: unknown colour tags {header['matrix']!r}/{header['range']!r}")
    if header.get("colorspace", "rgb") not in COLORSPACES:  # optional: files without it are rgb
        raise BitstreamError(f"{name}: unknown colorspace {header['colorspace']!r} (known: {', '.join(COLORSPACES)})")


def fps_of(header: dict[str, Any]) -> Fraction:
    return Fraction(*header["fps"])


# ---------------------------------------------------------------------------- byte reading
class Reader:
    """Reads little-endian fields from a payload; running past its end is a BitstreamError."""

    def __init__(self, data: bytes, name: str, what: str):
        self.data, self.pos, self.name, self.what = memoryview(data), 0, name, what
        self.payload = 0  # bytes read as coded values (ANS words, raw codes), as opposed to side information

    def fail(self, problem: str) -> BitstreamError:
        return BitstreamError(f"{self.name}: {self.what} {problem}")

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"is truncated (wants {n} bytes at offset {self.pos} of {len(self.data)})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def f32(self) -> float:
        return struct.unpack("<f", self.take(4))[0]

    def uvarint(self, limit: int = 2**31 - 1) -> int:
        """A LEB128 varint in 0..limit (by default the int32 range); at most as many bytes as
        the limit needs."""
        value, shift = 0, 0
        while True:
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift >= max(limit.bit_length(), 1):
                raise self.fail(f"holds an over-long varint (above the limit {limit})")
        if value > limit:
            raise self.fail(f"declares {value}, above the limit {limit}")
        return value

    def svarint(self, limit: int = 2**31 - 1) -> int:
        """A zig-zag varint in -limit..limit."""
        z = self.uvarint(2 * limit)
        return (z >> 1) ^ -(z & 1)

    def done(self) -> bool:
        return self.pos == len(self.data)


def uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def svarint(value: int) -> bytes:
    return uvarint((value << 1) ^ (value >> 63) if value < 0 else value << 1)
