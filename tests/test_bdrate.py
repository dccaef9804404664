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
