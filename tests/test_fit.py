from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import TINY_FIT, make_video, tiny_nerv as _model
from nvcodec.training.fit import FitConfig, fit, lr_factor
from nvcodec.models import model_class
from nvcodec.metrics import ms_ssim_torch, psnr_rgb, ssim_torch


def test_fitting_improves_psnr(tiny_video):
    result = fit(_model(tiny_video), tiny_video.frames, replace(TINY_FIT, epochs=60, lr=1e-2))
    assert result.history[-1]["psnr"] > result.history[0]["psnr"] + 4


@pytest.mark.parametrize("changes", [{}, {"optimizer": "muon", "muon_lr": 2e-2}, {"coarse_share": 0.75}],
                         ids=["adam", "muon", "progressive"])
def test_resume_after_interruption_gives_the_same_weights(tmp_path, tiny_video, changes):
    cfg = replace(TINY_FIT, epochs=4, checkpoint=str(tmp_path / "c.ckpt"), checkpoint_every=1, **changes)
    if "coarse_share" in changes:  # killed inside the coarse phase: its own head comes back too
        tiny_video = make_video(80, 60)
    straight = _model(tiny_video)
    fit(straight, tiny_video.frames, replace(cfg, checkpoint=None))

    class Killed(Exception):
        pass

    def kill_at_2(epoch, record):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        fit(_model(tiny_video), tiny_video.frames, cfg, on_epoch=kill_at_2)
    resumed = _model(tiny_video)
    result = fit(resumed, tiny_video.frames, replace(cfg, resume=True))
    assert result.epochs == 4
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_schedule_warms_up_then_decays():
    assert lr_factor(0.0, 0.1) < lr_factor(0.05, 0.1) < lr_factor(0.1, 0.1) == 1.0
    assert lr_factor(0.5, 0.1) < 1.0 and lr_factor(1.0, 0.1) == pytest.approx(0.0)
    # progressive: warm-up and a constant rate over the coarse phase, then warm-up and cosine again
    assert lr_factor(0.01, 0.1, 0.3) < lr_factor(0.03, 0.1, 0.3) == lr_factor(0.29, 0.1, 0.3) == 1.0
    assert lr_factor(0.31, 0.1, 0.3) < 0.2 and lr_factor(0.37, 0.1, 0.3) == 1.0
    assert lr_factor(1.0, 0.1, 0.3) == pytest.approx(0.0)


def test_progressive_fitting_starts_without_the_last_stage():
    video = make_video(80, 60)  # two upsampling stages, the last of stride 3
    model = _model(video)
    assert model.coarse == (3, model.config["channels"][-2])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = fit(model, video.frames, replace(TINY_FIT, epochs=3, coarse_share=0.99))
    assert [h["mode"] for h in result.history] == ["coarse"] * 3
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    last = f"blocks.{len(model.blocks) - 1}."
    assert changed == {k for k in before if not k.startswith((last, "head."))}  # all but the last stage learned
    result = fit(_model(video), video.frames, replace(TINY_FIT, epochs=4, coarse_share=0.5))
    assert [h["mode"] for h in result.history] == ["coarse", "coarse", "float", "float"]
    # rate-aware after the coarse phase: the rate is per pixel of the frames (not of the coarse features)
    model = _model(video)
    result = fit(model, video.frames, replace(TINY_FIT, epochs=6, rate_lambda=0.01, coarse_share=0.3))
    pixels = video.frames.shape[0] * video.frames.shape[1] * video.frames.shape[2]
    assert result.history[-1]["bpp"] == pytest.approx(float(result.rate.bits(model)) / pixels, rel=0.02)
    one_stage = make_video()  # one upsampling stage: nothing coarser to fit
    assert _model(one_stage).coarse is None
    result = fit(_model(one_stage), one_stage.frames, replace(TINY_FIT, coarse_share=0.5))
    assert {h["mode"] for h in result.history} == {"float"}


def test_progressive_share_is_checked():
    from nvcodec.errors import InputError
    with pytest.raises(InputError, match="coarse_share 1.0 must be"):
        FitConfig(epochs=1, coarse_share=1.0)
    with pytest.raises(InputError, match="ends after quantization starts"):
        FitConfig(epochs=1, coarse_share=0.7, rate_lambda=0.01)


def test_budget_required():
    from nvcodec.errors import InputError
    with pytest.raises(InputError):
        FitConfig()


def test_metrics_known_values():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[..., 0] = 255  # one of three channels fully wrong: MSE = 255^2 / 3
    assert psnr_rgb(a, b) == pytest.approx(10 * np.log10(3), abs=1e-6)
    x = torch.rand(1, 3, 200, 200, dtype=torch.float64)
    assert float(ssim_torch(x, x)) == pytest.approx(1.0)
    assert float(ms_ssim_torch(x, x)) == pytest.approx(1.0)
    assert float(ms_ssim_torch(x, (x + 0.1 * torch.randn_like(x)).clamp(0, 1))) < 0.99
    with pytest.raises(ValueError):
        ms_ssim_torch(x[..., :100, :], x[..., :100, :])


@pytest.mark.parametrize("budget, total", [({"time_budget": 2.0}, "/2 s"), ({"epochs": 3}, "/3 epoch"),
                                           ({"epochs": 3, "time_budget": 60.0}, "/100 %")])
def test_the_progress_bar_counts_the_budget(tiny_video, capsys, budget, total):
    cls = model_class("nerv")
    model = cls(cls.configure(40, 24, tiny_video.info.frames, 2000))
    fit(model, tiny_video.frames, FitConfig(**budget, bf16=False, rate_lambda=0.01))
    err = capsys.readouterr().err
    assert total in err and "PSNR" in err and "dB" in err
    fit(model, tiny_video.frames, FitConfig(**budget, bf16=False, quiet=True))
    assert capsys.readouterr().err == ""  # --quiet silences it


def test_hnerv_encoder_learns_slower_than_its_decoder(tiny_video):
    """The optimizer takes the model's groups: HNeRV's encoder at ENCODER_LR_SCALE of the
    decoder's rate (at the full rate its output collapsed to one embedding for every frame)."""
    from nvcodec.models.hnerv import ENCODER_LR_SCALE

    cls = model_class("hnerv")
    info = tiny_video.info
    net = cls(cls.configure(info.width, info.height, info.frames, 4000))
    groups = net.param_groups()
    encoder = {id(p) for p in net.encoder.parameters()}
    assert [g["lr_scale"] for g in groups] == [1.0, ENCODER_LR_SCALE] and ENCODER_LR_SCALE < 1
    assert {id(p) for p in groups[1]["params"]} == encoder
    assert not encoder & {id(p) for p in groups[0]["params"]}
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    seen = []
    fit(net, tiny_video.frames, replace(TINY_FIT, epochs=1),
        on_epoch=lambda e, rec: seen.append(1))
    assert seen  # it fits with two groups
    nerv = model_class("nerv")
    one = nerv(nerv.configure(info.width, info.height, info.frames, 4000)).param_groups()
    assert len(one) == 1 and one[0]["lr_scale"] == 1.0


def test_an_unavailable_device_is_refused_before_fitting():
    from nvcodec.errors import InputError

    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            FitConfig(epochs=1, device="cuda")
    with pytest.raises(InputError, match="not a device"):
        FitConfig(epochs=1, device="gpu0")
    with pytest.raises(InputError, match="cpu or cuda"):
        FitConfig(epochs=1, device="meta")


def test_resume_refuses_a_checkpoint_of_the_other_colorspace(tmp_path, tiny_video):
    from nvcodec.errors import InputError

    cfg = replace(TINY_FIT, epochs=1, checkpoint=str(tmp_path / "c.ckpt"), checkpoint_every=1)
    fit(_model(tiny_video), tiny_video.frames, cfg)
    with pytest.raises(InputError, match="fitted to rgb, not yuv420"):
        fit(_model(tiny_video), tiny_video.frames, replace(cfg, epochs=2, resume=True, colorspace="yuv420"))


_FAULTS_SCRIPT = r"""
import resource, sys
import numpy as np
import nvcodec.training.fit as fitting
from nvcodec.models import model_class
if sys.argv[1] == "default":
    fitting.keep_freed_memory = lambda: False
def refaults(mib):  # page faults of a block allocated again after one of its size was freed
    np.ones(mib << 20, np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(mib << 20, np.uint8)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
frames = np.random.default_rng(0).integers(0, 256, (4, 60, 100, 3), dtype=np.uint8)
cls = model_class("nerv")
fitting.fit(cls(cls.configure(100, 60, 4, 2000)), frames, fitting.FitConfig(epochs=2, quiet=True))
print(refaults(30))
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="glibc's malloc")
def test_fitting_keeps_freed_memory_instead_of_faulting_it_back_in():
    """glibc hands a freed block above its (adaptive) mmap threshold back to the system, so the
    next block of that size faults its pages in again: a fitting step's activations did so, 600-900
    page faults a step for NeRV at 320x180. After fit (which asks glibc to keep freed memory), a
    30 MiB block freed and allocated again faults nothing back in; without that request, its pages
    fault in again."""
    import os
    import subprocess
    import sys

    from nvcodec.resources import glibc

    if glibc() is None:
        pytest.skip("not glibc")
    faults = {}
    for mode in ("default", "keep"):
        # numpy would ask for huge pages on large blocks: a 30 MiB block then faults in ~15 times, default or not
        env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "0"}
        out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT, mode], capture_output=True, text=True, check=True,
                             env=env)
        faults[mode] = [int(out.stdout.split()[-1])]
    # (how many faults a MiB costs depends on the kernel's huge pages: 30 MiB faulted 865 times here)
    assert faults["default"][0] > 100, faults
    assert faults["keep"][0] * 10 < faults["default"][0], faults
