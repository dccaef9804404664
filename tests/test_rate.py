"""Rate-aware fitting: the rate the loss sees, the quantization it trains, and what reaches the file."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from nvcodec.bitstream.decoder import decode_frames
from nvcodec.training.encoder import encode_video, rate_control_start
from nvcodec.bitstream.entropy import laplace_table, table_bits
from nvcodec.training.fit import FitConfig, fit, plan_stage
from nvcodec.metrics import psnr_rgb
from nvcodec.models import model_class
from nvcodec.bitstream.quant import dequantize_tensor
from nvcodec.training.rate import RateModel, laplace_bits, laplace_decay, quality_to_lambda, soft_round

from conftest import TINY_FIT


def test_soft_round_goes_from_identity_to_rounding():
    x = torch.linspace(-3, 3, 101)
    assert torch.allclose(soft_round(x, 0.0), x)
    assert torch.allclose(soft_round(x, 1e-4), x, atol=1e-4)
    far = x[(x - x.round()).abs() < 0.45]
    assert torch.allclose(soft_round(far, 60.0), far.round(), atol=1e-3)


def test_laplace_bits_match_the_coders_integer_table():
    """The rate the loss sees is the cost under the entropy coder's own Laplace family."""
    rng = np.random.default_rng(0)
    q = np.clip(np.round(rng.laplace(0, 3.0, 20000)), -60, 60).astype(np.int64)
    r = laplace_decay(torch.tensor(float(np.abs(q).mean())))
    estimate = float(laplace_bits(torch.tensor(float(q.size)), torch.tensor(float(np.abs(q).sum())), r))
    best = min(table_bits(laplace_table(code, -60, 60), q + 60) for code in range(0, 120))
    assert estimate == pytest.approx(best, rel=0.01)


def test_the_files_estimate_is_the_rate_the_loss_sees():
    from nvcodec.bitstream.entropy import laplace_ideal_bits

    rng = np.random.default_rng(1)
    q = np.round(rng.laplace(0, 2.5, 5000)).astype(np.int32)
    a = torch.tensor(np.abs(q).astype(np.float32))
    loss_bits = float(laplace_bits(torch.tensor(float(q.size)), a.sum(), laplace_decay(a.mean())))
    assert laplace_ideal_bits(q) == pytest.approx(loss_bits, rel=1e-5)
    assert laplace_ideal_bits(np.zeros(7, np.int32)) == 0.0


def test_hard_mode_computes_exactly_what_the_file_holds():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3), torch.nn.Conv2d(8, 300, 1), torch.nn.Linear(5, 3))
    model[1].to(memory_format=torch.channels_last)
    names = [n for n, _ in model.named_parameters()]
    rate = RateModel(model, names, init_bits=6)
    with torch.no_grad():
        rate.log_step += 0.37  # learned steps, not float16-exact
    params, bits = rate.quantized_parameters(model, "hard")
    exported = rate.export(model)
    assert list(exported) == names
    for name, w in model.named_parameters():
        assert params[name].shape == w.shape
        assert torch.equal(params[name].detach(), dequantize_tensor(exported[name])), name
    # the conv of 300 channels of 8 values gets a step per group of 16 channels (>= 128 values)
    assert len(exported["1.weight"].scales) == 300 // 16 + 1
    assert params["1.weight"].is_contiguous(memory_format=torch.channels_last)
    # the rate is the sum of each tensor's own Laplace rate
    expected = 0.0
    for a in exported.values():
        v = torch.tensor(a.values, dtype=torch.float32).abs()
        expected += float(laplace_bits(torch.tensor(float(v.numel())), v.sum(), laplace_decay(v.mean())))
    assert float(bits.detach()) == pytest.approx(expected, rel=1e-5)


def test_plan_goes_float_soft_hard():
    cfg = FitConfig(epochs=10, rate_lambda=0.01, quant_start=0.3, hard_start=0.9)
    assert plan_stage(cfg, 0.1)[0] == "float"
    mode, a1 = plan_stage(cfg, 0.4)
    _, a2 = plan_stage(cfg, 0.8)
    assert mode == "soft" and a2 > a1
    assert plan_stage(cfg, 0.95)[0] == "hard"
    assert plan_stage(FitConfig(epochs=10), 0.95)[0] == "float"  # no lambda: the earlier path


def test_lower_quality_number_spends_more_bits_and_rates_agree(tmp_path, tiny_video):
    results = {q: encode_video(tiny_video, tmp_path / f"q{q}.nvc", model="nerv", params=3000, quality=q,
                               fit_config=replace(TINY_FIT, epochs=30)) for q in (0, 51)}
    assert results[0].bytes > 2 * results[51].bytes
    assert results[0].coded_bits == pytest.approx(results[0].estimated_bits, rel=0.03)
    for q, r in results.items():
        assert r.quality == q and r.fit.rate is not None
        # the file never spends more than the loss saw (it may spend less: a constant tensor, say)
        assert r.coded_bits <= 1.03 * r.estimated_bits
        # what the encoder measured is what the standalone decoder renders from the file
        assert psnr_rgb(decode_frames(tmp_path / f"q{q}.nvc"), tiny_video.frames) == pytest.approx(r.psnr, abs=1e-6)


def test_quality_and_bits_are_exclusive(tmp_path, tiny_video):
    from nvcodec.errors import InputError

    with pytest.raises(InputError, match="not several"):
        encode_video(tiny_video, tmp_path / "x.nvc", quality=20, bits=8, fit_config=TINY_FIT)
    with pytest.raises(InputError, match="quality 70"):
        encode_video(tiny_video, tmp_path / "x.nvc", quality=70, fit_config=TINY_FIT)


def test_a_rate_aware_fit_resumes_to_the_same_weights(tmp_path, tiny_video):
    cls = model_class("nerv")
    config = cls.configure(40, 24, tiny_video.info.frames, 3000)
    cfg = FitConfig(epochs=10, quiet=True, batch_size=2, rate_lambda=0.05, quant_start=0.3, checkpoint=str(tmp_path / "c.ckpt"),
                    checkpoint_every=6, bf16=False)

    def run(stop_after=None, resume=False):
        torch.manual_seed(0)
        model = cls(config)

        def stop(epoch, _):
            if stop_after is not None and epoch > stop_after:
                raise KeyboardInterrupt

        try:
            result = fit(model, tiny_video.frames, replace(cfg, resume=resume), on_epoch=stop)
        except KeyboardInterrupt:
            return None
        return model, result

    straight, _ = run()
    (tmp_path / "c.ckpt").unlink()
    assert run(stop_after=6) is None  # killed after the checkpoint of epoch 6, in the soft phase
    resumed, result = run(resume=True)
    assert result.rate is not None and result.epochs == 10
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_rate_control_lands_on_the_target(tmp_path):
    from conftest import make_video

    video = make_video(64, 48, 8)
    r = encode_video(video, tmp_path / "t.nvc", target_bpp=2.0, fit_config=replace(TINY_FIT, epochs=80))
    assert r.target_bpp == 2.0 and r.quality is None
    assert r.bpp == pytest.approx(2.0, rel=0.10)  # the file's own size
    assert (tmp_path / "t.nvc").stat().st_size == r.bytes
    start = quality_to_lambda(rate_control_start(2.0, 64 * 48 * 8)[1])
    assert r.fit.rate_lambda != pytest.approx(start, rel=0.05)  # lambda was steered away from its start


def test_rate_control_errors(tmp_path, tiny_video):
    from nvcodec.cli import main
    from nvcodec.errors import InputError

    with pytest.raises(InputError, match="not several"):
        encode_video(tiny_video, tmp_path / "x.nvc", quality=20, target_bpp=0.1, fit_config=TINY_FIT)
    with pytest.raises(InputError, match="above 0"):
        encode_video(tiny_video, tmp_path / "x.nvc", target_bpp=-1, fit_config=TINY_FIT)
    with pytest.raises(InputError, match="side information"):
        encode_video(tiny_video, tmp_path / "x.nvc", target_bpp=0.001, fit_config=TINY_FIT)
    assert main(["encode", "carphone", "-o", str(tmp_path / "y.nvc"), "--target-bpp", "0.1", "--target-size", "5k"]) == 2
    assert not (tmp_path / "y.nvc").exists()


def fused_and_plain(rate: RateModel, w: torch.Tensor, mode: str, alpha: float, residuals=lambda parts: parts):
    """(w_hat, bits, dL/dw, dL/dlog_step) of the plain composition, then of the fused quantizer, for
    L = w_hat . upstream + 0.3 bits. The plain one is autograd through the same steps written out op by
    op; ``residuals`` maps each tensor's (soft) integers to what its rate is taken over."""
    upstream = torch.randn_like(w)

    def plain():
        step = rate.steps(stored=(mode == "hard"))[rate.group_of]
        x = w / step
        if mode == "soft":
            q = soft_round(x, alpha) + rate.noise(torch.Generator().manual_seed(5))
        else:
            q = x + (torch.round(x) - x).detach()
        sums = torch.stack([part.abs().sum() for part in residuals(list(q.split(rate.sizes)))])
        bits = laplace_bits(rate.counts.double(), sums, laplace_decay(sums.detach() / rate.counts)).sum()
        return q * step, bits

    def fused():
        return rate.quantize(w, mode, alpha, torch.Generator().manual_seed(5))

    out = []
    for f in (plain, fused):
        w.grad, rate.log_step.grad = None, None
        w_hat, bits = f()
        ((w_hat * upstream).sum() + 0.3 * bits).backward()
        out.append((w_hat.detach(), float(bits.detach()), w.grad.clone(), rate.log_step.grad.clone()))
    return out


@pytest.mark.parametrize("mode,alpha", [("soft", 3.0), ("soft", 0.0), ("hard", 0.0)])
def test_fused_fake_quantization_has_the_gradient_of_its_plain_composition(mode, alpha):
    """The one-node quantizer against autograd through the same steps written out op by op."""
    torch.manual_seed(1)
    # channel groups of 5 rows: 22 rows make four and a last one of 2; the Linear is one group of 5
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 22, 3), torch.nn.Linear(7, 5))
    names = [n for n, _ in model.named_parameters()]
    rate = RateModel(model, names, init_bits=5).double()
    w = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().requires_grad_()
    (a_hat, a_bits, a_w, a_s), (b_hat, b_bits, b_w, b_s) = fused_and_plain(rate, w, mode, alpha)
    assert torch.allclose(a_hat, b_hat, atol=1e-12) and a_bits == pytest.approx(b_bits, rel=1e-9)
    assert torch.allclose(a_w, b_w, rtol=1e-7, atol=1e-9)
    assert torch.allclose(a_s, b_s, rtol=1e-7, atol=1e-9)


class _Gridded(torch.nn.Module):
    """A conv and a grid (channels, slices, h, w) the file codes predicted along its slices."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3)
        # alike from slice to slice, as a fitted grid is: its differences are small
        self.grid = torch.nn.Parameter(torch.randn(3, 1, 5, 5).repeat(1, 32, 1, 1) + 0.01 * torch.randn(3, 32, 5, 5))

    def predicted_tensors(self) -> frozenset[str]:
        return frozenset({"grid"})


def test_a_predicted_tensors_rate_is_that_of_its_differences():
    from nvcodec.bitstream.entropy import laplace_ideal_bits, predict_axis1

    torch.manual_seed(2)
    model = _Gridded()
    names = [n for n, _ in model.named_parameters()]
    rate = RateModel(model, names, init_bits=8)
    exported = rate.export(model)
    assert len(exported["grid"].scales) == 3  # a step per channel, shared by its slices
    expected = laplace_ideal_bits(predict_axis1(exported["grid"].values))
    expected += sum(laplace_ideal_bits(exported[n].values) for n in ("conv.weight", "conv.bias"))
    assert rate.bits(model) == pytest.approx(expected, rel=1e-5)
    # far fewer bits than the same integers coded one by one
    assert expected < 0.6 * (laplace_ideal_bits(exported["grid"].values)
                             + sum(laplace_ideal_bits(exported[n].values) for n in ("conv.weight", "conv.bias")))


@pytest.mark.parametrize("mode,alpha", [("soft", 3.0), ("hard", 0.0)])
def test_a_predicted_tensors_rate_has_the_gradient_of_its_plain_composition(mode, alpha):
    torch.manual_seed(3)
    model = _Gridded()
    names = [n for n, _ in model.named_parameters()]
    rate = RateModel(model, names, init_bits=6).double()
    w = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().requires_grad_()

    def residuals(parts):  # the grid's slices as differences from the slice before
        grid = parts[names.index("grid")].view(3, 32, -1)
        parts[names.index("grid")] = torch.cat([grid[:, :1], grid[:, 1:] - grid[:, :-1]], 1).reshape(-1)
        return parts

    (a_hat, a_bits, a_w, a_s), (b_hat, b_bits, b_w, b_s) = fused_and_plain(rate, w, mode, alpha, residuals)
    assert torch.allclose(a_hat, b_hat, atol=1e-12) and a_bits == pytest.approx(b_bits, rel=1e-9)
    assert torch.allclose(a_w, b_w, rtol=1e-6, atol=1e-8)
    assert torch.allclose(a_s, b_s, rtol=1e-6, atol=1e-8)
