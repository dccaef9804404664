"""Entropy coding of integer tensors with constriction's ANS coder (numpy only, no torch).

Each tensor is coded on its own with whichever of these comes out smallest, model included:

    CONST        every value the same: just that value
    RAW          fixed-length codes of (value - min), ceil(log2(span + 1)) bits each
    CATEGORICAL  ANS under the tensor's own histogram, sent as varint counts
    LAPLACE      ANS under a discrete Laplace: an integer centre and an integer scale code

So small tensors (biases, a few scales) never pay for a histogram larger than themselves: they
go RAW or LAPLACE; large ones usually go CATEGORICAL, within 0.01% of their empirical entropy.

A tensor may be coded *predicted* (format version 5): along its axis 1, each value as its
difference from the value before it (the first as it is), so a feature grid whose time slices lie
on axis 1 costs what changes from slice to slice. The decoder adds them back up in integers, so
the prediction is exact on any machine. The high four bits of the method byte name the predictor.

Exact on any machine: every ANS model is an integer frequency table summing to 2^24 (constriction's
default precision), built with integer arithmetic only (laplace_table, counts_table), and handed
to constriction so that its fixed-point model is exactly that table. No exp or erf is evaluated
on the decoder's side, so a different math library cannot change a single probability.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from .container import LIMITS, Reader, svarint, uvarint

CONST, RAW, CATEGORICAL, LAPLACE = range(4)
METHOD_NAMES = ("const", "raw", "categorical", "laplace")
#: predictors, in the method byte's high four bits: none, or the value before along axis 1
PREDICT_NONE, PREDICT_AXIS1 = 0, 1

PRECISION = 24  # bits of constriction's default ANS models (u32 words): tables sum to 2^24
TOTAL = 1 << PRECISION
SCALE_CODES = 256  # Laplace scale codes 0..255: scale about 2^(code / 8)
_Q32 = 1 << 32
#: round(2^32 * 2^(-j/8)), j = 0..7, written out so that no machine computes them
_POW2_FRACTIONS = (4294967296, 3938502376, 3611622603, 3311872529, 3037000500, 2784941738, 2553802834,
                   2341847524)
RAW_CHUNK = 1 << 16  # values unpacked at a time (a multiple of 8: chunks start on a byte)


@dataclass
class QuantizedArray:
    """Integers in [-(2^(bits-1) - 1), 2^(bits-1) - 1] and float16 steps, laid out as
    scale_layout(shape) says: value = integer * the step of its group of rows (axis 0).
    ``values`` may be a read-only broadcast view (a CONST tensor costs no memory)."""

    values: np.ndarray  # int32, the tensor's shape
    scales: np.ndarray  # float16, scale_count(shape) of them
    bits: int


GROUP_MIN_VALUES = 128


def scale_layout(shape: Sequence[int]) -> tuple[int, int]:
    """(number of scales, rows each): weights (2+ dims) get a scale per group of output channels
    (rows along axis 0) holding at least 128 values, so a float16 scale costs at most 1/8 bit a
    value; usually that is one scale per channel. Vectors and scalars get one scale."""
    count = math.prod(int(s) for s in shape)
    if len(shape) < 2 or int(shape[0]) <= 1 or count == 0:
        return 1, max(int(shape[0]) if len(shape) >= 2 else 1, 1)
    rows = int(shape[0])
    per_row = count // rows
    group = -(-GROUP_MIN_VALUES // per_row)
    return -(-rows // group), group


def scale_count(shape: Sequence[int]) -> int:
    return scale_layout(shape)[0]


# ---------------------------------------------------------------------------- integer tables
def laplace_decay(scale_code: int) -> int:
    """The Laplace's ratio between neighbouring probabilities, r = 1 - 2^(-code/8), in Q32
    (integer / 2^32). Its scale -1/ln(r) is about 2^(code/8): 1 at code 0... 2^32 at 255."""
    if not 0 <= scale_code < SCALE_CODES:
        raise ValueError(f"Laplace scale code {scale_code} outside 0..{SCALE_CODES - 1}")
    return _Q32 - (_POW2_FRACTIONS[scale_code % 8] >> (scale_code // 8))


def _powers(r: int, n: int) -> np.ndarray:
    """r^0 .. r^(n-1) in Q32 (uint64), by doubling: w[m + i] = (w[i] * w'[m]) >> 32 with
    w'[m] = (w[m-1] * r) >> 32. Integer arithmetic only, so identical on every machine."""
    w = np.zeros(max(n, 1), np.uint64)
    w[0] = _Q32
    m = 1
    while m < n:
        rm = (int(w[m - 1]) * r) >> 32
        k = min(m, n - m)
        w[m:m + k] = (w[:k] * np.uint64(rm)) >> np.uint64(32)
        m += k
    return w[:n]


def laplace_table(scale_code: int, lo: int, hi: int, center: int = 0) -> np.ndarray:
    """Integer frequencies (int64) of a discrete Laplace on the integers lo..hi: proportional
    to r^|k - center| (r from laplace_decay), every symbol at least 1, summing to 2^24.
    Integer arithmetic only; the decoder and the (future) rate model of training share it."""
    if not lo < hi or hi - lo + 1 > LIMITS["histogram_bins"] or not lo <= center <= hi:
        raise ValueError(f"Laplace table on {lo}..{hi} centred at {center}")
    r = laplace_decay(scale_code)
    weights = _powers(r, max(center - lo, hi - center) + 1)
    distance = np.abs(np.arange(lo, hi + 1, dtype=np.int64) - center)
    return _normalise(weights[distance], center - lo)


def counts_table(counts: np.ndarray) -> np.ndarray:
    """A histogram as integer frequencies summing to 2^24 (every bin at least 1)."""
    counts = np.asarray(counts, dtype=np.uint64)
    return _normalise(counts, int(np.argmax(counts)))


def _normalise(weights: np.ndarray, peak: int) -> np.ndarray:
    """1 + weight * free // sum(weights) for each symbol, the remainder to ``peak``: sums to 2^24.
    Weights below 2^32 and fewer than 2^17 symbols keep every product within 64 bits."""
    n = len(weights)
    free = TOTAL - n
    total = int(weights.sum(dtype=np.uint64))
    table = (1 + (weights * np.uint64(free)) // np.uint64(total)).astype(np.int64)
    table[peak] += TOTAL - int(table.sum())
    return table


def table_model(table: np.ndarray):
    """constriction's Categorical model that is exactly ``table`` (integers summing to 2^24).

    constriction's fast quantization gives symbol i the weight 1 + (its share of the free
    weight 2^24 - n); handing it table - 1, whose sum is exactly that free weight, makes the
    share an exact integer, so its fixed-point model is the table itself."""
    import constriction

    return constriction.stream.model.Categorical((table - 1).astype(np.float64), perfect=False)


def laplace_ideal_bits(values: np.ndarray) -> float:
    """Bits of the integers ``values`` under the zero-centred discrete Laplace fitted to them by
    maximum likelihood: the rate rate-aware fitting's loss sees (rate.laplace_bits), and about
    what this coder spends on them (it picks the best table of the family, or a better one)."""
    count = values.size
    abs_sum = float(np.abs(values).sum(dtype=np.int64)) if count else 0.0  # |int32| of 17 bits at most: no overflow
    if abs_sum == 0:
        return 0.0
    m = abs_sum / count
    r = (math.sqrt(1 + m * m) - 1) / m  # mean |k| = 2r / (1 - r^2)
    return -count * math.log2((1 - r) / (1 + r)) - abs_sum * math.log2(r)


def table_bits(table: np.ndarray, symbols: np.ndarray) -> float:
    """The ideal cost in bits of ``symbols`` (0-based) under ``table`` (the encoder's choice)."""
    return float(-np.log2(table[symbols] / TOTAL).sum())


# ---------------------------------------------------------------------------- one integer array
def encode_ints(values: np.ndarray) -> bytes:
    """Code a flat int array; the result is self-delimiting given the count (see decode_ints)."""
    v = np.ascontiguousarray(values, dtype=np.int64).ravel()
    if v.size == 0:
        return bytes([CONST]) + svarint(0)
    lo, hi = int(v.min()), int(v.max())
    if lo == hi:
        return bytes([CONST]) + svarint(lo)
    candidates = [_encode_raw(v, lo, hi)]
    if hi - lo + 1 <= LIMITS["histogram_bins"]:  # always, for values of 16 bits or fewer
        candidates += [_encode_laplace(v, lo, hi), _encode_categorical(v, lo, hi)]
    return min(candidates, key=len)


def method_of(blob: bytes) -> str:
    return METHOD_NAMES[blob[0]]


def _encode_raw(v: np.ndarray, lo: int, hi: int) -> bytes:
    nbits = (hi - lo).bit_length()
    bits = ((v - lo)[:, None] >> np.arange(nbits)) & 1
    return bytes([RAW]) + svarint(lo) + bytes([nbits]) + np.packbits(bits.astype(np.uint8), bitorder="little").tobytes()


def _ans(symbols: np.ndarray, table: np.ndarray) -> np.ndarray:
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols.astype(np.int32), table_model(table))
    return coder.get_compressed()


def _ans_field(symbols: np.ndarray, table: np.ndarray) -> bytes:
    words = _ans(symbols, table)
    return uvarint(len(words)) + words.astype("<u4").tobytes()


def _encode_categorical(v: np.ndarray, lo: int, hi: int) -> bytes:
    counts = np.bincount(v - lo, minlength=hi - lo + 1)
    header = bytes([CATEGORICAL]) + svarint(lo) + uvarint(hi - lo + 1) + b"".join(uvarint(int(c)) for c in counts)
    return header + _ans_field(v - lo, counts_table(counts))


def _encode_laplace(v: np.ndarray, lo: int, hi: int) -> bytes:
    """The scale code is picked by the exact cost of the table, among the 7 codes nearest the
    mean absolute deviation's (a Laplace's scale)."""
    center = int(np.clip(np.round(np.median(v)), lo, hi))
    spread = float(np.abs(v - center).mean())
    guess = int(round(8 * math.log2(spread + 0.5))) if spread > 0 else 0
    symbols = v - lo
    codes = [c for c in range(guess - 3, guess + 4) if 0 <= c < SCALE_CODES] or [0]
    code = min(codes, key=lambda c: table_bits(laplace_table(c, lo, hi, center), symbols))
    return (bytes([LAPLACE]) + svarint(lo) + uvarint(hi - lo) + svarint(center) + bytes([code])
            + _ans_field(symbols, laplace_table(code, lo, hi, center)))


def decode_ints(reader: Reader, count: int, bound: int = 2**31 - 1, method: Optional[int] = None) -> np.ndarray:
    """Read one coded array of ``count`` integers (int32), each within [-bound, bound], from
    ``reader`` (``method``: its method byte, already read). Every field is bounded before it
    sizes anything; a CONST array is a broadcast view (no memory per value); an ANS stream must
    be exactly the words its values code to."""
    if method is None:
        method = reader.u8()
    if method == CONST:
        value = reader.svarint(bound)
        return np.broadcast_to(np.int32(value), (count,))
    if method not in (RAW, CATEGORICAL, LAPLACE):
        raise reader.fail(f"uses unknown coding method {method} (this decoder knows 0..{len(METHOD_NAMES) - 1})")
    if count == 0:
        raise reader.fail(f"codes an empty tensor with method {METHOD_NAMES[method]}, not const")
    lo = reader.svarint(bound)
    if method == RAW:
        return _decode_raw(reader, count, lo, bound)
    if method == CATEGORICAL:
        nbins = reader.uvarint(LIMITS["histogram_bins"])
        if nbins < 2 or lo + nbins - 1 > bound:
            raise reader.fail(f"declares {nbins} histogram bins from {lo} (values lie within +-{bound})")
        counts = np.array([reader.uvarint(count) for _ in range(nbins)], dtype=np.int64)
        if int(counts.sum()) != count:
            raise reader.fail(f"histogram counts {int(counts.sum())} values, expected {count}")
        return _decode_ans(reader, counts_table(counts), count) + lo
    span = reader.uvarint(LIMITS["histogram_bins"] - 1)
    center = reader.svarint(bound)
    code = reader.u8()
    if span < 1 or lo + span > bound or not lo <= center <= lo + span:
        raise reader.fail(f"declares a bad Laplace model (values {lo}..{lo + span}, centre {center}, "
                          f"within +-{bound})")
    return _decode_ans(reader, laplace_table(code, lo, lo + span, center), count) + lo


def _decode_raw(reader: Reader, count: int, lo: int, bound: int) -> np.ndarray:
    """Fixed-length codes, unpacked RAW_CHUNK values at a time (a bit never becomes 8 bytes)."""
    nbits = reader.u8()
    if not 1 <= nbits <= (2 * bound).bit_length():
        raise reader.fail(f"declares {nbits}-bit raw codes")
    packed = np.frombuffer(reader.take(-(-count * nbits // 8)), np.uint8)
    reader.payload += len(packed)
    if (count * nbits) % 8 and packed[-1] >> ((count * nbits) % 8):
        raise reader.fail("has raw codes with stray bits after the last value")
    weights = np.int64(1) << np.arange(nbits, dtype=np.int64)
    out = np.empty(count, np.int32)
    for start in range(0, count, RAW_CHUNK):
        n = min(RAW_CHUNK, count - start)
        chunk = packed[start * nbits // 8:-(-(start + n) * nbits // 8)]
        bits = np.unpackbits(chunk, bitorder="little")[:n * nbits].reshape(n, nbits)
        values = lo + bits.astype(np.int64) @ weights
        if values.max() > bound:
            raise reader.fail(f"holds raw values above {bound}")
        out[start:start + n] = values
    return out


def _decode_ans(reader: Reader, table: np.ndarray, count: int) -> np.ndarray:
    """``count`` symbols (0-based) from an ANS field; the words must be exactly what coding those
    symbols gives (so no word is left over, none is missing, none was decoded past the end)."""
    import constriction

    nwords = reader.uvarint(LIMITS["section_bytes"] // 4)
    if nwords == 0:
        raise reader.fail("has an empty ANS stream")
    words = np.frombuffer(reader.take(4 * nwords), dtype="<u4").astype(np.uint32)
    reader.payload += 4 * nwords
    if words[-1] == 0:  # constriction's own check, made here so that it is one of ours
        raise reader.fail("has an ANS stream ending in a zero word, which no coder writes")
    symbols = np.asarray(constriction.stream.stack.AnsCoder(words).decode(table_model(table), count), dtype=np.int32)
    if not np.array_equal(_ans(symbols, table), words):
        raise reader.fail(f"has an ANS stream of {nwords} words that does not code exactly {count} values "
                          "(words left over or missing)")
    return symbols


# ---------------------------------------------------------------------------- prediction
def predict_axis1(values: np.ndarray) -> np.ndarray:
    """Each value minus the one before it along axis 1 (the first of each row as it is), int32
    (values of 16 bits or fewer differ by less than 2^17)."""
    v = np.asarray(values, dtype=np.int32)
    residual = np.empty_like(v)
    residual[:, :1] = v[:, :1]
    np.subtract(v[:, 1:], v[:, :-1], out=residual[:, 1:])
    return residual


def unpredict_axis1(residual: np.ndarray) -> np.ndarray:
    """The inverse of predict_axis1: running sums along axis 1, in integers (int64)."""
    return np.cumsum(residual, axis=1, dtype=np.int64)


def can_predict(shape: Sequence[int]) -> bool:
    """A tensor can be coded predicted when it has an axis 1 of at least two values."""
    return len(shape) >= 2 and int(shape[1]) >= 2


# ---------------------------------------------------------------------------- tensor records
def pack_tensors(tensors: Sequence[QuantizedArray],
                 predicted: Optional[Sequence[bool]] = None) -> tuple[bytes, list[int]]:
    """The TENS payload: per tensor, bits (u8) | scales (float16 LE) | coded integers.
    ``predicted``: per tensor, code its integers predicted along axis 1 (format version 5).
    Returns the payload and the bytes each tensor took."""
    out, sizes = bytearray(), []
    predicted = list(predicted) if predicted is not None else [False] * len(tensors)
    if len(predicted) != len(tensors):
        raise ValueError(f"{len(predicted)} prediction flags for {len(tensors)} tensors")
    for q, predict in zip(tensors, predicted):
        scales = np.asarray(q.scales, dtype="<f2")
        if scales.size != scale_count(q.values.shape):
            raise ValueError(f"{scales.size} scales for shape {q.values.shape}")
        # never write what no decoder would read (a fit that diverged gives NaN steps)
        if not 1 <= q.bits <= LIMITS["bits"] or not np.all(np.isfinite(scales)):
            raise ValueError(f"tensor of shape {q.values.shape}: {q.bits} bits, steps {scales[:4]}...: not storable")
        if predict:
            if not can_predict(q.values.shape):
                raise ValueError(f"tensor of shape {q.values.shape} has no axis 1 to predict along")
            coded = bytearray(encode_ints(predict_axis1(q.values)))
            coded[0] |= PREDICT_AXIS1 << 4
        else:
            coded = encode_ints(q.values)
        record = bytes([q.bits]) + scales.tobytes() + bytes(coded)
        out += record
        sizes.append(len(record))
    return bytes(out), sizes


@dataclass
class TensorRecord:
    """One tensor as read from TENS, with what it cost: ``coded`` bytes of coded values (ANS
    words, raw codes), the rest of ``size`` being side information (bits, steps, models)."""

    tensor: QuantizedArray
    size: int
    coded: int
    method: str
    #: the integers were coded predicted along axis 1 (as predict_axis1 of them)
    predicted: bool = False

    def coded_integers(self) -> np.ndarray:
        """The integers as the file coded them: the tensor's, or their predicted residuals."""
        return predict_axis1(self.tensor.values) if self.predicted else self.tensor.values


def iter_tensors(payload: bytes, shapes: Sequence[Sequence[int]], name: str,
                 predictors: bool = False) -> Iterator[TensorRecord]:
    """Read the TENS payload one tensor at a time (so a caller can keep just one in integers);
    checks every value's range and that nothing follows the last tensor. ``predictors``: the
    file's version allows predicted tensors (5); else a predictor in a method byte is refused."""
    reader = Reader(payload, name, "section TENS")
    for index, shape in enumerate(shapes):
        start = reader.pos
        bits = reader.u8()
        if not 1 <= bits <= LIMITS["bits"]:
            raise reader.fail(f"tensor {index} declares {bits} bits")
        scales = np.frombuffer(reader.take(2 * scale_count(shape)), dtype="<f2").astype(np.float16)
        if not np.all(np.isfinite(scales)) or np.any(scales < 0):
            raise reader.fail(f"tensor {index} has invalid scales")
        count = math.prod(int(s) for s in shape)
        coded_before = reader.payload
        byte = reader.u8()
        predictor, method = byte >> 4, byte & 15
        bound = 2 ** (bits - 1) - 1
        if predictor == PREDICT_NONE:
            values = decode_ints(reader, count, bound, method).reshape(tuple(shape))
        elif not predictors:
            raise reader.fail(f"tensor {index} is coded with predictor {predictor}, which only format version 5 "
                              "files may use")
        elif predictor != PREDICT_AXIS1:
            raise reader.fail(f"tensor {index} uses unknown predictor {predictor} (this decoder knows "
                              f"{PREDICT_NONE}..{PREDICT_AXIS1})")
        elif not can_predict(shape):
            raise reader.fail(f"tensor {index} of shape {tuple(shape)} is coded predicted along an axis 1 it lacks")
        else:  # differences of two values within +-bound lie within +-2 bound; their sums must not
            summed = unpredict_axis1(decode_ints(reader, count, 2 * bound, method).reshape(tuple(shape)))
            if summed.size and max(-int(summed.min()), int(summed.max())) > bound:
                raise reader.fail(f"tensor {index}'s predicted values leave +-{bound} ({bits} bits)")
            values = summed.astype(np.int32)
        label = METHOD_NAMES[method] if predictor == PREDICT_NONE else f"predicted {METHOD_NAMES[method]}"
        yield TensorRecord(QuantizedArray(values, scales, bits), reader.pos - start,
                           reader.payload - coded_before, label, predictor != PREDICT_NONE)
    if not reader.done():
        raise reader.fail(f"has {len(payload) - reader.pos} bytes left after the last tensor")


def unpack_tensors(payload: bytes, shapes: Sequence[Sequence[int]], name: str,
                   details: Optional[list[tuple[int, str]]] = None,
                   predictors: bool = False) -> tuple[list[QuantizedArray], list[int]]:
    """Inverse of pack_tensors, for tensors of the given shapes. Returns the tensors and the bytes
    each took; ``details``, if given, receives per tensor its coded bytes and coding method."""
    out, sizes = [], []
    for record in iter_tensors(payload, shapes, name, predictors):
        out.append(record.tensor)
        sizes.append(record.size)
        if details is not None:
            details.append((record.coded, record.method))
    return out, sizes
