"""The optimizers fitting can use (nvcodec.training.optim): Muon for weight matrices beside Adam."""
from dataclasses import replace

import pytest
import torch

from conftest import TINY_FIT, tiny_nerv as _model
from nvcodec.errors import InputError
from nvcodec.training.fit import FitConfig, fit
from nvcodec.training.optim import make_optimizer, orthogonalize


@pytest.mark.parametrize("shape", [(40, 9), (9, 40), (16, 16)])
def test_orthogonalize_keeps_the_directions_and_evens_the_singular_values(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    g[:, 0] *= 30  # one direction far stronger than the others
    u = orthogonalize(g)
    # g's singular vectors, each singular value moved near 1 (Newton-Schulz's quintic: not exactly)
    U, _, Vh = torch.linalg.svd(g, full_matrices=False)
    d = U.T @ u @ Vh.T
    values = torch.diagonal(d)
    assert float((d - torch.diag(values)).abs().max()) < 1e-3
    assert values.min() > 0.5 and values.max() < 1.3


def test_muon_takes_the_weight_matrices_and_adam_the_rest(tiny_video):
    model = _model(tiny_video)
    opt = make_optimizer(model.param_groups(), "muon", 5e-3, (0.9, 0.999), 2e-2, fused=False)
    names = {id(p): n for n, p in model.named_parameters()}
    in_muon = {names[id(p)] for g in opt.muon.param_groups for p in g["params"]}
    in_adam = {names[id(p)] for g in opt.adam.param_groups for p in g["params"]}
    assert in_muon == {"mlp.0.weight", "mlp.2.weight"} | {f"blocks.{i}.0.weight" for i in range(len(model.blocks))}
    assert in_adam == set(names.values()) - in_muon  # biases and the 3-channel head
    # the fit's schedule sets lr = fit lr x lr_scale: Muon's groups carry their own rate that way
    assert all(g["lr"] == pytest.approx(2e-2) for g in opt.muon.param_groups)
    assert opt.param_groups == opt.adam.param_groups + opt.muon.param_groups


def test_fitting_with_muon_learns(tiny_video):
    # resuming a Muon fit bit-exact: test_fit's resume test, for each optimizer
    learning = fit(_model(tiny_video), tiny_video.frames, replace(TINY_FIT, epochs=20, optimizer="muon", muon_lr=2e-2))
    assert learning.history[-1]["psnr"] > learning.history[0]["psnr"] + 0.5


def test_a_muon_checkpoint_is_not_resumed_with_adam(tmp_path, tiny_video):
    cfg = replace(TINY_FIT, epochs=2, optimizer="muon", muon_lr=2e-2, checkpoint=str(tmp_path / "c.ckpt"),
                  checkpoint_every=1)
    fit(_model(tiny_video), tiny_video.frames, cfg)
    with pytest.raises(InputError, match="another version"):
        fit(_model(tiny_video), tiny_video.frames, replace(cfg, epochs=4, optimizer="adam", resume=True))


def test_an_unknown_optimizer_is_refused():
    with pytest.raises(InputError, match="unknown optimizer 'sgd'"):
        FitConfig(epochs=1, optimizer="sgd")
