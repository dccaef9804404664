import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from nvcodec.bitstream import Reader
from nvcodec.entropy import QuantizedArray, decode_ints, encode_ints, method_of, pack_tensors, unpack_tensors, scale_count
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
    assert method_of(blob) in ("raw", "laplace", "gaussian")
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
    with pytest.raises(BitstreamError, match="outside 4-bit"):
        unpack_tensors(payload, [(2,)], "f.nvc")
