"""Entropy coding of integer tensors with constriction's ANS coder (numpy only, no torch).

Each tensor is coded on its own with whichever of these comes out smallest, model included:

    CONST        every value the same: just that value
    RAW          fixed-length codes of (value - min), ceil(log2(span + 1)) bits each
    CATEGORICAL  ANS under the tensor's own histogram, sent as varint counts
    LAPLACE      ANS under a quantized Laplace (mean, scale as float32) on [min, max]
    GAUSSIAN     ANS under a quantized Gaussian, likewise

So small tensors (biases, a few scales) never pay for a histogram larger than themselves: they
go RAW or parametric; large ones usually go CATEGORICAL, within 0.01% of their empirical entropy.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .bitstream import LIMITS, Reader, svarint, uvarint

CONST, RAW, CATEGORICAL, LAPLACE, GAUSSIAN = range(5)
METHOD_NAMES = ("const", "raw", "categorical", "laplace", "gaussian")
_MIN_SCALE, _MAX_SCALE = 1e-2, 1e7


@dataclass
class QuantizedArray:
    """Integers in [-(2^(bits-1) - 1), 2^(bits-1) - 1] and float16 steps, laid out as
    scale_layout(shape) says: value = integer * the step of its group of rows (axis 0)."""

    values: np.ndarray  # int32, the tensor's shape
    scales: np.ndarray  # float16, scale_count(shape) of them
    bits: int


GROUP_MIN_VALUES = 128


def scale_layout(shape: Sequence[int]) -> tuple[int, int]:
    """(number of scales, rows each): weights (2+ dims) get a scale per group of output channels
    (rows along axis 0) holding at least 128 values, so a float16 scale costs at most 1/8 bit a
    value; usually that is one scale per channel. Vectors and scalars get one scale."""
    count = int(np.prod(shape, dtype=np.int64))
    if len(shape) < 2 or int(shape[0]) <= 1 or count == 0:
        return 1, max(int(shape[0]) if len(shape) >= 2 else 1, 1)
    rows = int(shape[0])
    per_row = count // rows
    group = -(-GROUP_MIN_VALUES // per_row)
    return -(-rows // group), group


def scale_count(shape: Sequence[int]) -> int:
    return scale_layout(shape)[0]


# ---------------------------------------------------------------------------- one integer array
def encode_ints(values: np.ndarray) -> bytes:
    """Code a flat int array; the result is self-delimiting given the count (see decode_ints)."""
    v = np.ascontiguousarray(values, dtype=np.int64).ravel()
    if v.size == 0:
        return bytes([CONST]) + svarint(0)
    lo, hi = int(v.min()), int(v.max())
    if lo == hi:
        return bytes([CONST]) + svarint(lo)
    candidates = [_encode_raw(v, lo, hi), _encode_categorical(v, lo, hi)]
    mean = float(np.float32(v.mean()))
    laplace_b = float(np.float32(max(np.abs(v - mean).mean(), _MIN_SCALE)))
    gauss_s = float(np.float32(max(v.std(), _MIN_SCALE)))
    candidates.append(_encode_parametric(v, lo, hi, LAPLACE, mean, laplace_b))
    candidates.append(_encode_parametric(v, lo, hi, GAUSSIAN, mean, gauss_s))
    return min(candidates, key=len)


def method_of(blob: bytes) -> str:
    return METHOD_NAMES[blob[0]]


def _encode_raw(v: np.ndarray, lo: int, hi: int) -> bytes:
    nbits = (hi - lo).bit_length()
    bits = ((v - lo)[:, None] >> np.arange(nbits)) & 1
    return bytes([RAW]) + svarint(lo) + bytes([nbits]) + np.packbits(bits.astype(np.uint8), bitorder="little").tobytes()


def _ans(v: np.ndarray, model, *params: np.ndarray) -> bytes:
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(v, model, *params)
    words = coder.get_compressed()
    return uvarint(len(words)) + words.astype("<u4").tobytes()


def _encode_categorical(v: np.ndarray, lo: int, hi: int) -> bytes:
    import constriction

    if hi - lo + 1 > LIMITS["histogram_bins"]:
        return b"\xff" * (v.size * 8)  # never the smallest
    counts = np.bincount(v - lo, minlength=hi - lo + 1)
    model = constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)
    table = b"".join(uvarint(int(c)) for c in counts)
    return (bytes([CATEGORICAL]) + svarint(lo) + uvarint(hi - lo + 1) + table
            + _ans((v - lo).astype(np.int32), model))


def _parametric_model(kind: int, lo: int, hi: int):
    import constriction

    family = constriction.stream.model.QuantizedLaplace if kind == LAPLACE else constriction.stream.model.QuantizedGaussian
    return family(lo, hi)


def _encode_parametric(v: np.ndarray, lo: int, hi: int, kind: int, mean: float, scale: float) -> bytes:
    n = v.size
    words = _ans(v.astype(np.int32), _parametric_model(kind, lo, hi), np.full(n, mean), np.full(n, scale))
    return bytes([kind]) + svarint(lo) + uvarint(hi - lo) + struct.pack("<ff", mean, scale) + words


def decode_ints(reader: Reader, count: int) -> np.ndarray:
    """Read one coded array of ``count`` integers (int32) from ``reader``."""
    import constriction

    method = reader.u8()
    if method == CONST:
        value = reader.svarint(2**31)
        return np.full(count, value, dtype=np.int32)
    lo = reader.svarint(2**31)
    if method == RAW:
        nbits = reader.u8()
        if not 1 <= nbits <= 32:
            raise reader.fail(f"declares {nbits}-bit raw codes")
        packed = np.frombuffer(reader.take(math.ceil(count * nbits / 8)), np.uint8)
        reader.payload += len(packed)
        bits = np.unpackbits(packed, bitorder="little")[:count * nbits].reshape(count, nbits).astype(np.int64)
        return (lo + (bits << np.arange(nbits)).sum(axis=1)).astype(np.int32)
    if method == CATEGORICAL:
        nbins = reader.uvarint(LIMITS["histogram_bins"])
        if nbins < 1:
            raise reader.fail("declares an empty histogram")
        counts = np.array([reader.uvarint(count) for _ in range(nbins)], dtype=np.float64)
        if counts.sum() != count:
            raise reader.fail(f"histogram counts {int(counts.sum())} values, expected {count}")
        model = constriction.stream.model.Categorical(counts / count, perfect=False)
        return _decode_ans(reader, model, count) + lo
    if method in (LAPLACE, GAUSSIAN):
        span = reader.uvarint(2**31)
        mean, scale = struct.unpack("<ff", reader.take(8))
        if not (math.isfinite(mean) and math.isfinite(scale) and _MIN_SCALE <= scale <= _MAX_SCALE
                and lo - 1 <= mean <= lo + span + 1):
            raise reader.fail(f"declares a bad {METHOD_NAMES[method]} model (mean {mean}, scale {scale})")
        model = _parametric_model(method, lo, lo + span)
        return _decode_ans(reader, model, count, np.full(count, mean), np.full(count, scale))
    raise reader.fail(f"uses unknown coding method {method}")


def _decode_ans(reader: Reader, model, count: int, *params: np.ndarray) -> np.ndarray:
    import constriction

    nwords = reader.uvarint(LIMITS["section_bytes"] // 4)
    words = np.frombuffer(reader.take(4 * nwords), dtype="<u4").astype(np.uint32)
    reader.payload += 4 * nwords
    if count == 0:
        return np.zeros(0, np.int32)
    decoder = constriction.stream.stack.AnsCoder(words)
    return np.asarray(decoder.decode(model, *params) if params else decoder.decode(model, count),
                      dtype=np.int32)


# ---------------------------------------------------------------------------- tensor records
def pack_tensors(tensors: Sequence[QuantizedArray]) -> tuple[bytes, list[int]]:
    """The TENS payload: per tensor, bits (u8) | scales (float16 LE) | coded integers.
    Returns the payload and the bytes each tensor took."""
    out, sizes = bytearray(), []
    for q in tensors:
        scales = np.asarray(q.scales, dtype="<f2")
        if scales.size != scale_count(q.values.shape):
            raise ValueError(f"{scales.size} scales for shape {q.values.shape}")
        record = bytes([q.bits]) + scales.tobytes() + encode_ints(q.values)
        out += record
        sizes.append(len(record))
    return bytes(out), sizes


def unpack_tensors(payload: bytes, shapes: Sequence[Sequence[int]], name: str,
                   details: Optional[list[tuple[int, str]]] = None) -> tuple[list[QuantizedArray], list[int]]:
    """Inverse of pack_tensors, for tensors of the given shapes; checks every value's range.
    Returns the tensors and the bytes each took; ``details``, if given, receives per tensor the
    bytes of coded values (the rest of a record is side information: bits, steps, models) and
    the name of its coding method."""
    reader = Reader(payload, name, "section TENS")
    out, sizes = [], []
    for index, shape in enumerate(shapes):
        start = reader.pos
        bits = reader.u8()
        if not 1 <= bits <= LIMITS["bits"]:
            raise reader.fail(f"tensor {index} declares {bits} bits")
        scales = np.frombuffer(reader.take(2 * scale_count(shape)), dtype="<f2").astype(np.float16)
        if not np.all(np.isfinite(scales)) or np.any(scales < 0):
            raise reader.fail(f"tensor {index} has invalid scales")
        count = int(np.prod(shape, dtype=np.int64))
        coded_before, method_at = reader.payload, reader.pos
        values = decode_ints(reader, count)
        qmax = 2 ** (bits - 1) - 1
        if values.size and (values.min() < -qmax or values.max() > qmax):
            raise reader.fail(f"tensor {index} holds values outside {bits}-bit range")
        out.append(QuantizedArray(values.reshape(tuple(shape)), scales, bits))
        sizes.append(reader.pos - start)
        if details is not None:
            details.append((reader.payload - coded_before, METHOD_NAMES[payload[method_at]]))
    if not reader.done():
        raise reader.fail(f"has {len(payload) - reader.pos} bytes left after the last tensor")
    return out, sizes
