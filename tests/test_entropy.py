import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from nvcodec.bitstream.container import Reader
from nvcodec.bitstream.container import svarint, uvarint
from nvcodec.bitstream.entropy import (CATEGORICAL, LAPLACE, RAW, TOTAL, QuantizedArray, _POW2_FRACTIONS, decode_ints,
                             encode_ints, laplace_table, method_of, pack_tensors, scale_count, table_bits,
                             table_model, unpack_tensors)
from nvcodec.errors import BitstreamError


def roundtrip(values: np.ndarray) -> tuple[np.ndarray, bytes]:
    blob = encode_ints(values)
    reader = Reader(blob, "t", "blob")
    out = decode_ints(reader, values.size)
    assert reader.done()
    return out, blob


@pytest.mark.parametrize("values", [
    np.zeros(0, np.int32),
    np.full(17, -5, np.int32),
    np.array([127, -127], np.int32),
    np.array([-32767, 0, 32767], np.int32),
    np.arange(-300, 300, dtype=np.int32),
])
def test_edge_cases_roundtrip(values):
    out, _ = roundtrip(values)
    assert np.array_equal(out, values)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int32, st.integers(0, 3000), elements=st.integers(-(2**15 - 1), 2**15 - 1)))
def test_random_arrays_roundtrip(values):
    out, _ = roundtrip(values)
    assert np.array_equal(out, values)


@pytest.mark.parametrize("scale", [0.3, 2.0, 20.0])
def test_peaked_tensor_codes_near_its_entropy(scale):
    rng = np.random.default_rng(1)
    values = np.clip(np.round(rng.laplace(0, scale, 50_000)), -127, 127).astype(np.int32)
    out, blob = roundtrip(values)
    assert np.array_equal(out, values)
    _, counts = np.unique(values, return_counts=True)
    entropy_bytes = -(counts * np.log2(counts / counts.sum())).sum() / 8
    assert len(blob) < entropy_bytes * 1.02 + 600
    assert len(blob) < values.size  # far below 8 bits a value


def test_small_tensor_does_not_pay_for_a_histogram():
    values = np.array([3, -1, 0, 2, -2, 1], np.int32)
    _, blob = roundtrip(values)
    assert method_of(blob) in ("raw", "laplace")
    assert len(blob) <= 8


@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (4, 3), (64, 8, 3, 3), (2, 1, 1, 1), (300, 200)])
def test_pack_unpack_tensors(shape):
    rng = np.random.default_rng(2)
    tensors = [QuantizedArray(rng.integers(-127, 128, shape).astype(np.int32),
                              rng.random(scale_count(shape)).astype(np.float16), 8) for _ in range(3)]
    payload, sizes = pack_tensors(tensors)
    assert sum(sizes) == len(payload)
    back, back_sizes = unpack_tensors(payload, [shape] * 3, "t")
    assert back_sizes == sizes
    for a, b in zip(tensors, back):
        assert np.array_equal(a.values, b.values) and np.array_equal(a.scales, b.scales) and a.bits == b.bits


@pytest.mark.parametrize("bits", [2, 8, 16])
def test_predicted_tensors_roundtrip_and_cost_what_changes(bits):
    rng = np.random.default_rng(4)
    peak = 2 ** (bits - 1) - 1
    # slices along axis 1 that drift a little from one to the next, reaching the edges of the range
    start = rng.integers(-peak // 2, peak // 2 + 1, (6, 1, 3, 3))
    walk = np.clip(start + np.cumsum(rng.integers(-1, 2, (6, 40, 3, 3)), axis=1), -peak, peak).astype(np.int32)
    walk[0, 0, 0, 0], walk[0, 1, 0, 0] = peak, -peak  # the widest step a residual can take: 2 * peak
    tensors = [QuantizedArray(walk, np.ones(scale_count(walk.shape), np.float16), bits),
               QuantizedArray(walk[:, :, 0, 0].copy(), np.ones(scale_count((6, 40)), np.float16), bits)]
    payload, sizes = pack_tensors(tensors, [True, False])
    plain, _ = pack_tensors(tensors, [False, False])
    if bits == 8:  # (at 16 bits the forced jump of 2 * peak makes both raw)
        assert sizes[0] < 0.6 * pack_tensors(tensors[:1])[1][0]  # the differences cost less
    with pytest.raises(BitstreamError, match="predictor 1, which only format version 5"):
        unpack_tensors(payload, [walk.shape, (6, 40)], "f.nvc")  # a file of an older version
    details = []
    back, back_sizes = unpack_tensors(payload, [walk.shape, (6, 40)], "f.nvc", details, predictors=True)
    assert back_sizes == sizes and [m.startswith("predicted") for _, m in details] == [True, False]
    for a, b in zip(tensors, back):
        assert np.array_equal(a.values, b.values) and b.values.dtype == np.int32
    assert unpack_tensors(plain, [walk.shape, (6, 40)], "f.nvc", predictors=True)[0][0].values.tolist() == walk.tolist()
    with pytest.raises(ValueError, match="no axis 1"):
        pack_tensors([QuantizedArray(np.zeros(5, np.int32), np.ones(1, np.float16), 8)], [True])


def test_predicted_records_that_lie_are_refused():
    ones = np.ones(1, np.float16)
    # residuals each within +-2*7 whose running sums leave the 4-bit range +-7
    blob = encode_ints(np.array([[7, 7]]))
    record = bytes([4]) + ones.tobytes() + bytes([0x10 | blob[0]]) + blob[1:]
    with pytest.raises(BitstreamError, match="tensor 0's predicted values leave \\+-7 \\(4 bits\\)"):
        unpack_tensors(record, [(1, 2)], "f.nvc", predictors=True)
    good = pack_tensors([QuantizedArray(np.array([[1, 2]], np.int32), ones, 4)], [True])[0]
    assert good[3] >> 4 == 1
    with pytest.raises(BitstreamError, match="unknown predictor 2"):
        unpack_tensors(good[:3] + bytes([good[3] & 15 | 0x20]) + good[4:], [(1, 2)], "f.nvc", predictors=True)
    with pytest.raises(BitstreamError, match="along an axis 1 it lacks"):
        unpack_tensors(good, [(2,)], "f.nvc", predictors=True)


def test_unpack_rejects_trailing_bytes_and_truncation():
    q = QuantizedArray(np.arange(-5, 5, dtype=np.int32), np.ones(1, np.float16), 8)
    payload, _ = pack_tensors([q])
    with pytest.raises(BitstreamError, match="left after"):
        unpack_tensors(payload + b"\0", [(10,)], "f.nvc")
    with pytest.raises(BitstreamError, match="f.nvc"):
        unpack_tensors(payload[:-1], [(10,)], "f.nvc")


def test_unpack_rejects_values_outside_the_bits():
    q = QuantizedArray(np.array([0, 100], np.int32), np.ones(1, np.float16), 4)
    payload, _ = pack_tensors([q])
    with pytest.raises(BitstreamError, match="f.nvc: section TENS declares 7-bit raw codes"):
        unpack_tensors(payload, [(2,)], "f.nvc")
    q = QuantizedArray(np.array([100, 100], np.int32), np.ones(1, np.float16), 4)
    with pytest.raises(BitstreamError, match="above the limit 14"):  # zig-zag: +-7 is 0..14
        unpack_tensors(pack_tensors([q])[0], [(2,)], "f.nvc")


# ---------------------------------------------------------------------------- integer tables
def test_power_constants_are_two_to_minus_j_eighths():
    for j, value in enumerate(_POW2_FRACTIONS):
        assert abs(value - 2**32 * 2 ** (-j / 8)) <= 0.5


@pytest.mark.parametrize("code, lo, hi, center", [(0, -3, 3, 0), (17, -127, 127, 0), (40, -127, 90, -5),
                                                  (255, -32767, 32767, 0), (100, 0, 1, 1)])
def test_laplace_table_shape(code, lo, hi, center):
    t = laplace_table(code, lo, hi, center)
    assert t.dtype == np.int64 and len(t) == hi - lo + 1 and t.sum() == TOTAL and t.min() >= 1
    c = center - lo
    assert np.all(np.diff(t[:c + 1]) >= 0) and np.all(np.diff(t[c:]) <= 0)  # falls away from the centre
    if code > 0 and c + 1 < len(t):
        assert t[c] > t[c + 1] or t[c + 1] == 1


def test_laplace_tables_are_pinned():
    """The tables are part of the format: integer arithmetic, so these hashes hold on any machine.
    A change here breaks every file that uses them (bump the format version)."""
    import hashlib
    digest = hashlib.sha256()
    for code in (0, 1, 7, 8, 30, 64, 128, 255):
        digest.update(laplace_table(code, -127, 127, 0).astype("<i8").tobytes())
        digest.update(laplace_table(code, -5, 300, 2).astype("<i8").tobytes())
    assert digest.hexdigest() == PINNED_TABLES


PINNED_TABLES = "54accc292e4e4e3e4840664741cff58d966d047619aacd5c750aefbd4ce82d9a"


@pytest.mark.parametrize("code", [0, 12, 40, 90])
def test_constriction_codes_exactly_the_table(code):
    """The words cost what the integer table says (within the coder's 64-bit start), so
    constriction's model is the table itself, not a float approximation of it."""
    import constriction
    table = laplace_table(code, -20, 20, 0)
    rng = np.random.default_rng(code)
    symbols = rng.integers(0, 41, 20000).astype(np.int32)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols, table_model(table))
    assert abs(32 * coder.num_words() - table_bits(table, symbols)) <= 64


def _laplace_blob(values):
    blob = encode_ints(np.asarray(values, np.int32))
    assert blob[0] in (LAPLACE, CATEGORICAL)
    return blob


def test_ans_streams_must_be_used_up_exactly():
    values = np.clip(np.round(np.random.default_rng(3).laplace(0, 3, 4000)), -127, 127).astype(np.int32)
    blob = _laplace_blob(values)
    reader = Reader(blob, "f.nvc", "x")
    reader.u8(), reader.svarint(), reader.uvarint(65536), reader.svarint(), reader.u8()
    head, nwords = blob[:reader.pos], reader.uvarint()
    words = blob[reader.pos:]
    assert len(words) == 4 * nwords
    for changed in (uvarint(nwords + 1) + words + b"\x01\0\0\0",   # a word left over
                    uvarint(nwords - 1) + words[4:],                  # a word missing
                    uvarint(1) + words[:4]):                          # decoding far past the end
        with pytest.raises(BitstreamError, match="f.nvc: x has an ANS stream"):
            decode_ints(Reader(head + changed, "f.nvc", "x"), values.size, 127)


@pytest.mark.parametrize("blob, match", [
    (bytes([4]) + svarint(0), "unknown coding method 4"),           # version 1's GAUSSIAN
    (bytes([9]), "unknown coding method 9"),
    (bytes([0]) + svarint(2**31), "above the limit"),               # a CONST past int32
    (bytes([0]) + b"\xff" * 12, "over-long varint"),
    (bytes([RAW]) + svarint(0) + bytes([3]) + b"\xff\xff\x3f", "stray bits"),
    (bytes([CATEGORICAL]) + svarint(0) + uvarint(3) + uvarint(1) + uvarint(1) + uvarint(10**6), "above the limit"),
    (bytes([LAPLACE]) + svarint(100) + uvarint(50) + svarint(0) + bytes([8]), "bad Laplace model"),
])
def test_lying_fields_are_refused(blob, match):
    with pytest.raises(BitstreamError, match=match):
        decode_ints(Reader(blob, "f.nvc", "x"), 7, 127)


def test_const_is_a_view_not_an_allocation():
    out = decode_ints(Reader(bytes([0]) + svarint(-3), "f.nvc", "x"), 10**9, 127)
    assert out.shape == (10**9,) and out.strides == (0,) and int(out[123456789]) == -3
