"""Every architecture through the same chain: shapes at odd sizes, exact round trips, what is stored."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import TINY_FIT, make_video
from nvcodec.bitstream.container import read_container
from nvcodec.bitstream.decoder import decode_frames, load_bitstream
from nvcodec.training.encoder import compress, encode_video, render_all
from nvcodec.bitstream.entropy import scale_count, scale_layout, unpack_tensors
from nvcodec.training.fit import fit
from nvcodec.models import REGISTRY, model_class
from nvcodec.bitstream.quant import quantize_tensors

MODELS = sorted(REGISTRY)


def _fitted(name, video, params=4000, epochs=2):
    cls = model_class(name)
    torch.manual_seed(0)
    model = cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))
    fit(model, video.frames, replace(TINY_FIT, epochs=epochs))
    with torch.no_grad():
        model.prepare_storage(torch.from_numpy(video.frames))
    return model


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("width, height", [(101, 67), (17, 9), (33, 20)])
def test_output_covers_odd_sizes(name, width, height):
    cls = model_class(name)
    model = cls(cls.configure(width, height, 3, 3000))
    out_h, out_w = model.out_size
    assert out_h >= height and out_w >= width
    frames = torch.rand(2, 3, height, width)
    out = model(torch.tensor([0, 2]), frames if model.needs_frames else None)
    assert out.shape == (2, 3, out_h, out_w)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.parametrize("name", MODELS)
def test_budget_is_respected(name):
    for params in (20_000, 100_000):
        cls = model_class(name)
        model = cls(cls.configure(320, 180, 132, params))
        counted = model.num_stored_parameters() // getattr(model, "num_groups", 1)  # nirvana: one group's network
        assert 0.7 * params < counted <= params


@pytest.mark.parametrize("name", MODELS)
def test_bitstream_roundtrip_per_model(tmp_path, name):
    video = make_video(37, 23, frames=5)
    model = _fitted(name, video)
    info = video.info
    expected = quantize_tensors(model.stored_tensors(), 8)
    data = compress(model, info)
    mine = render_all(model, info)
    shapes = [q.values.shape for q in expected.values()]
    container = read_container(data)
    decoded, _ = unpack_tensors(container.sections[b"TENS"], shapes, "t", predictors=container.predictors)
    assert (data[4] == 5) == bool(model.predicted_tensors())  # a predicted tensor makes a version-5 file
    for want, got in zip(expected.values(), decoded):
        assert np.array_equal(want.values, got.values) and np.array_equal(want.scales, got.scales)
    frames = decode_frames(data)
    assert frames.shape == (5, 23, 37, 3)
    assert np.array_equal(frames, mine)
    assert np.array_equal(decode_frames(data, frames=(1, 3)), mine[1:3])


def test_hnerv_stores_embeddings_not_its_encoder(tmp_path):
    video = make_video(40, 24, frames=6)
    model = _fitted("hnerv", video)
    stored = model.stored_tensors()
    encoder_params = sum(p.numel() for p in model.encoder.parameters())
    assert encoder_params > 0
    assert not any(k.startswith("encoder.") for k in stored)
    assert "embeddings" in stored
    assert model.num_stored_parameters() == sum(p.numel() for k, p in model.state_dict().items()
                                                if not k.startswith("encoder."))
    # the decoder's model has no encoder at all, and the file holds only the stored tensors' values
    data = compress(model, video.info)
    stream = load_bitstream(data)
    assert stream.model.encoder is None
    assert set(stream.tensor_bytes) == set(stored)


def test_hnerv_embeddings_roundtrip_exactly():
    video = make_video(40, 24, frames=6)
    model = _fitted("hnerv", video)
    expected = quantize_tensors(model.stored_tensors(), 8)["embeddings"]
    assert expected.values.shape[1] == 6  # stored as (d, frames, h0, w0): steps go per embedding channel
    assert expected.scales.size == scale_count(expected.values.shape)
    assert scale_layout((16, 132, 2, 4)) == (16, 1)  # at a real size, one step a channel
    data = compress(model, video.info)
    stream = load_bitstream(data)
    assert torch.equal(stream.model.embeddings, model.embeddings)
    assert torch.count_nonzero(stream.model.embeddings) > 0


def test_hnerv_renders_from_embeddings_after_fitting(tmp_path):
    video = make_video(40, 24, frames=6)
    result = encode_video(video, tmp_path / "h.nvc", model="hnerv", params=4000, fit_config=replace(TINY_FIT, epochs=3))
    frames = decode_frames(tmp_path / "h.nvc")
    from nvcodec.metrics import psnr_rgb
    assert psnr_rgb(frames, video.frames) == pytest.approx(result.psnr, abs=1e-6)


def test_hnerv_embeddings_are_fitted_inside_the_rate(tmp_path):
    """Rate-aware: from the quantized phase on, the embeddings are parameters the quantizer and the
    rate see (they used to be quantized to 8 bits after fitting, outside the rate)."""
    video = make_video(40, 24, frames=6)
    result = encode_video(video, tmp_path / "h.nvc", model="hnerv", params=4000, quality=20,
                          fit_config=replace(TINY_FIT, epochs=12))
    assert "embeddings" in result.fit.rate.names
    assert result.coded_bits == pytest.approx(result.estimated_bits, rel=0.03)
    stream = load_bitstream(tmp_path / "h.nvc")
    assert torch.count_nonzero(stream.model.embeddings) > 0


def test_hnerv_fit_too_short_to_quantize_keeps_its_embeddings(tmp_path):
    """A rate-aware fit that ends before its quantized phase (quant_start past the end) still quantizes
    the encoder's embeddings from their values: they were zeros when the rate's steps were set (every
    step at its floor, the file's embeddings clamped near +-0.03 and the estimate far off)."""
    video = make_video(40, 24, frames=6)
    result = encode_video(video, tmp_path / "h.nvc", model="hnerv", params=4000, quality=20,
                          fit_config=replace(TINY_FIT, epochs=1, quant_start=0.99))
    assert result.fit.history[-1]["mode"] == "float"  # it never reached the quantized phase
    assert result.coded_bits == pytest.approx(result.estimated_bits, rel=0.03)
    embeddings = load_bitstream(tmp_path / "h.nvc").model.embeddings
    assert float(embeddings.abs().max()) > 0.1


def test_nerv_film_option_starts_as_the_identity_and_round_trips(tmp_path):
    """--model nerv with film: each stage scaled and shifted by the frame's MLP features; zero at
    the start (the same frames as without), trained and stored like any tensor, decoded exactly."""
    video = make_video(37, 23, frames=5)
    cls = model_class("nerv")
    config = cls.configure(37, 23, 5, 4000, film=True)
    assert config["film"] == 1 and "film" not in cls.configure(37, 23, 5, 4000)
    torch.manual_seed(0)
    model = cls(config)
    plain = cls({k: v for k, v in config.items() if k != "film"})
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("film.")})
    index = torch.tensor([0, 3])
    assert torch.equal(model(index), plain(index))
    fit(model, video.frames, replace(TINY_FIT, epochs=2))
    assert any(float(p.abs().max()) > 0 for p in model.film.parameters())
    data = compress(model, video.info)
    assert np.array_equal(decode_frames(data), render_all(model, video.info))
    with pytest.raises(ValueError, match="film"):
        cls.check_config({**config, "film": 2})


@pytest.mark.parametrize("stride, kernel, act", [(2, 3, True), (5, 3, True), (3, 1, False), (1, 3, True)])
def test_upsample_block_channels_last_path_is_the_same_function(stride, kernel, act):
    """Fitting (channels_last) computes a block with its output channels reordered and the shuffle
    as a copy; the decoder (contiguous) runs PyTorch's layers: same values and same gradients."""
    from nvcodec.models.blocks import UpsampleBlock

    torch.manual_seed(0)
    block = UpsampleBlock(5, 3, stride, kernel=kernel, act=act).double()
    x = torch.randn(2, 5, 7, 6, dtype=torch.float64)
    outs, grads = [], []
    for layout in (torch.contiguous_format, torch.channels_last):
        block.zero_grad()
        xi = x.clone(memory_format=layout).requires_grad_()
        y = block(xi)
        assert y.shape == (2, 3, 7 * stride, 6 * stride)
        (y * torch.linspace(-1, 1, y.numel(), dtype=torch.float64).view_as(y)).sum().backward()
        outs.append(y.detach())
        grads.append([xi.grad] + [p.grad.clone() for p in block.parameters()])
    assert torch.allclose(outs[0], outs[1], atol=1e-12)
    for a, b in zip(grads[0], grads[1]):
        assert torch.allclose(a, b, atol=1e-10)
