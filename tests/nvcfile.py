"""A builder of CRC-valid .nvc files that say whatever a test wants: valid framing (magic, version,
sections, CRC32s) around lying content, to reach the parser behind the CRC check."""
from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Sequence

from nvcodec.bitstream import MAGIC, VERSION, svarint, uvarint
from nvcodec.entropy import CATEGORICAL, CONST, LAPLACE, RAW


def section(tag: bytes, payload: bytes) -> bytes:
    framed = tag + struct.pack("<I", len(payload)) + payload
    return framed + struct.pack("<I", zlib.crc32(framed))


def nvc(header: dict[str, Any] | bytes, tens: bytes, version: int = VERSION) -> bytes:
    """A whole file; ``header`` is a dict (dumped as JSON) or the HEAD payload itself."""
    head = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + bytes([version]) + section(b"HEAD", head) + section(b"TENS", tens)


def record(coded: bytes, scales: int = 1, bits: int = 8) -> bytes:
    """One tensor: bits, ``scales`` float16 steps of 0.01, then its coded integers."""
    return bytes([bits]) + struct.pack(f"<{scales}e", *([0.01] * scales)) + coded


def const(value: int) -> bytes:
    return bytes([CONST]) + svarint(value)


def raw(lo: int, nbits: int, packed: bytes) -> bytes:
    return bytes([RAW]) + svarint(lo) + bytes([nbits]) + packed


def categorical(lo: int, counts: Sequence[int], words: Sequence[int]) -> bytes:
    return (bytes([CATEGORICAL]) + svarint(lo) + uvarint(len(counts)) + b"".join(uvarint(c) for c in counts)
            + ans(words))


def laplace(lo: int, span: int, center: int, code: int, words: Sequence[int]) -> bytes:
    return bytes([LAPLACE]) + svarint(lo) + uvarint(span) + svarint(center) + bytes([code]) + ans(words)


def ans(words: Sequence[int]) -> bytes:
    return uvarint(len(words)) + struct.pack(f"<{len(words)}I", *words)
