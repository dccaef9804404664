import math

import pytest

from nvcodec.metrics import bd_rate

RATE = [0.02, 0.05, 0.1, 0.2, 0.4]
PSNR = [27.0, 30.5, 33.0, 35.8, 38.1]


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_identical_curves_give_zero(method):
    assert bd_rate(RATE, PSNR, RATE, PSNR, method) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_half_the_rate_gives_minus_fifty(method):
    assert bd_rate(RATE, PSNR, [r / 2 for r in RATE], PSNR, method) == pytest.approx(-50.0, abs=1e-6)
    assert bd_rate(RATE, PSNR, [r * 2 for r in RATE], PSNR, method) == pytest.approx(100.0, abs=1e-6)


def test_only_the_overlap_counts_and_none_gives_nan():
    shifted = [p + 2 for p in PSNR]  # better quality at every rate: fewer bits at equal quality
    assert bd_rate(RATE, PSNR, RATE, shifted) < 0
    assert math.isnan(bd_rate(RATE, PSNR, RATE, [p + 20 for p in PSNR]))


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_bd_rate_over_a_partial_overlap(method):
    # log rate linear in PSNR; the test curve reaches each quality 1.5 dB "earlier", over another range
    slope = 0.23
    ref_q, test_q = [24.0, 27.0, 30.0, 33.0, 36.0], [29.0, 31.0, 34.0, 38.0, 41.0]
    ref_r = [math.exp(-9 + slope * q) for q in ref_q]
    test_r = [math.exp(-9 + slope * (q - 1.5)) for q in test_q]
    expected = 100 * (math.exp(-slope * 1.5) - 1)
    assert bd_rate(ref_r, ref_q, test_r, test_q, method) == pytest.approx(expected, abs=1e-6)


def test_a_curve_that_is_not_monotone_gives_nan():
    assert math.isnan(bd_rate(RATE, PSNR, RATE, [27.0, 31.0, 30.0, 35.8, 38.1]))
    assert math.isnan(bd_rate(RATE, PSNR, RATE, [27.0, 31.0, 31.0, 35.8, 38.1]))  # PCHIP would raise
