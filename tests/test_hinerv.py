"""The feature-grid model (models/hinerv.py): through the whole chain, exact time blending, a
rate the file keeps, random access, and configs a decoder refuses."""
from fractions import Fraction
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import TINY_FIT, make_video
from nvcodec.bitstream.container import read_container, write_container
from nvcodec.cli import main
from nvcodec.bitstream.decoder import decode_frames, load_bitstream
from nvcodec.training.encoder import compress, encode_video, rate_control_start
from nvcodec.io import VideoInfo
from nvcodec.bitstream.entropy import pack_tensors
from nvcodec.metrics import psnr_rgb
from nvcodec.models import model_class
from nvcodec.models.coords import time_blend
from nvcodec.models.hinerv import SHAPES, add_to_every_cell
from nvcodec.bitstream.quant import quantize_tensors

HiNeRV = model_class("hinerv")


@pytest.mark.parametrize("frames,slices", [(1, 2), (2, 2), (6, 3), (132, 33), (10_000, 2_500), (7, 7)])
def test_time_blend_is_the_exact_position(frames, slices):
    index = torch.arange(frames) if frames < 200 else torch.tensor([0, 1, 4_999, 9_998, 9_999])
    lo, w = time_blend(index, frames, slices)
    for i, l, wi in zip(index.tolist(), lo.tolist(), w.tolist()):
        exact = Fraction(i * (slices - 1), max(frames - 1, 1))
        assert 0 <= l < max(slices - 1, 1) and l + wi == pytest.approx(float(exact), abs=1e-6)


def test_every_shape_renders_the_padded_size_and_fits_the_budget():
    for shape in SHAPES:
        config = HiNeRV.configure(40, 24, 6, 10_000, shape=shape)
        HiNeRV.check_config(config)
        net = HiNeRV(config)
        assert 5_000 < net.num_stored_parameters() <= 10_000
        assert net(torch.tensor([0, 5])).shape == (2, 3, *config["out_size"])
        assert config["out_size"][0] >= 24 and config["out_size"][1] >= 40


def grid_share(config: dict) -> float:
    net = HiNeRV(config)
    return sum(g.numel() for g in net.grids) / net.num_stored_parameters()


def test_grow_gives_a_large_budget_to_the_grid_and_leaves_a_small_one():
    """carphone's size and length at the bench's 0.4 bpp (220k) and 0.05 bpp (46k) budgets: the
    default shape's grid grows (in time, then channels) to half a large budget and stays as it is
    in a small one."""
    big, grown = (HiNeRV.configure(176, 144, 120, 220_000, **options) for options in ({"grow": None}, {}))
    assert grid_share(big) < 0.3 and 0.45 <= grid_share(grown) <= 0.55
    assert grown["base_grid"] == [[60, 10]] and grown["channels"][0] < big["channels"][0]
    HiNeRV.check_config(grown)
    # 130k: a slice every 2nd frame would need fewer than the shape's 8 channels; the grid grows in channels
    assert HiNeRV.configure(176, 144, 120, 130_000)["base_grid"] == [[30, 12]]
    small = HiNeRV.configure(176, 144, 120, 46_000)
    assert HiNeRV.configure(176, 144, 120, 46_000, grow=None) == small and grid_share(small) >= 0.45


def test_rate_control_gives_hinerv_a_larger_network_for_a_large_file(tmp_path, monkeypatch):
    """Above LARGE_FILE_BITS (the default quality's file) rate control sizes hinerv at 1.6x the
    ladder's network; below it, the ladder's; and the encoder passes the target's bits and the
    ladder's size to the model and builds the network at the size it returns."""
    carphone = 176 * 144 * 120
    ladder_small, _ = rate_control_start(0.1, carphone)  # 304k bits
    ladder_large, _ = rate_control_start(0.2, carphone)  # 608k bits
    assert HiNeRV.size_for_rate(0.1, 0.1 * carphone, ladder_small) is None
    assert HiNeRV.size_for_rate(0.2, 0.2 * carphone, ladder_large) == int(1.6 * ladder_large)

    seen = []

    def sized(bpp, bits, ladder):
        seen.append((bpp, bits, ladder))
        return 4_000

    monkeypatch.setattr(HiNeRV, "size_for_rate", staticmethod(sized))
    video = make_video(40, 24, 8)
    result = encode_video(video, tmp_path / "g.nvc", model="hinerv", target_bpp=1.5,
                          fit_config=replace(TINY_FIT, epochs=2))
    assert seen == [(1.5, 1.5 * 40 * 24 * 8, rate_control_start(1.5, 40 * 24 * 8)[0])]
    assert 2_000 < result.parameters <= 4_000 < rate_control_start(1.5, 40 * 24 * 8)[0]


def test_local_grid_broadcast_equals_tiling():
    x, cell = torch.randn(2, 5, 12, 20), torch.randn(2, 5, 4, 4)
    tiled = add_to_every_cell(x, cell)
    assert torch.equal(tiled, x + cell.repeat(1, 1, 3, 5))
    fast = add_to_every_cell(x.contiguous(memory_format=torch.channels_last), cell)
    assert torch.equal(fast, tiled)


@pytest.mark.parametrize("shape", ["grid", "nerv-grid", "cheap"])
def test_round_trip_rate_and_random_access(tmp_path, shape):
    video = make_video(40, 24, 8)
    path = tmp_path / "g.nvc"
    result = encode_video(video, path, model="hinerv", params=6_000, quality=10, model_options={"shape": shape},
                          fit_config=replace(TINY_FIT, epochs=30))
    frames = decode_frames(path)
    assert frames.shape == (8, 24, 40, 3)
    assert result.psnr == pytest.approx(psnr_rgb(frames, video.frames), abs=1e-9)  # scored from the bytes
    assert result.psnr > 14  # it learned something (the mean frame alone scores ~11 dB here)
    # every grid went through the rate-aware quantizer, and the file spends what the loss saw
    grids = {"grids.0"} if shape == "grid" else {"grids.0", "stages.0.local"}
    assert grids <= set(result.fit.rate.names)
    assert result.coded_bits == pytest.approx(result.estimated_bits, rel=0.03)
    # the base grid's slices are coded as differences (a version-5 file), the local grids value by value
    methods = load_bitstream(path).tensor_methods
    assert [methods[n].startswith("predicted") for n in sorted(grids)] == [True, False][:len(grids)]
    assert path.read_bytes()[4] == 5
    # random access: frames 3..6 alone are the full decode's
    assert np.array_equal(decode_frames(path, frames=(3, 6)), frames[3:6])


def test_the_cli_encodes_and_decodes_it(tmp_path, tiny_clip):
    nvc, y4m = tmp_path / "t.nvc", tmp_path / "t.y4m"
    assert main(["encode", tiny_clip, "-o", str(nvc), "--model", "hinerv", "--params", "4k", "--epochs", "2",
                 "--quiet"]) == 0
    assert load_bitstream(nvc).model.name == "hinerv"
    assert main(["decode", str(nvc), "-o", str(y4m), "--quiet"]) == 0


def _file(config) -> bytes:
    net = HiNeRV(config)
    payload, _ = pack_tensors(list(quantize_tensors(net.stored_tensors(), 8).values()))
    header = {"model": "hinerv", "config": config, "width": 40, "height": 24, "frames": config["frames"],
              "fps": [25, 1], "matrix": "bt601", "range": "tv"}
    return write_container(header, payload)


@pytest.mark.parametrize("change,message", [
    ({"out_size": [24, 44]}, "out_size"),                     # scales that do not divide the frame
    ({"base_grid": [[5000, 2]]}, "slices"),                   # past the bitstream's limits
    ({"base_grid": [[2, 2]] * 5}, "1 to 4"),
    ({"base_grid": [[6, 2.5]]}, "integers"),
    ({"upsample": "nearest"}, "upsample"),
    ({"local": [4, 100]}, "channels"),
    ({"depths": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}, "depths"),
    ({"surprise": 1}, "unknown config keys"),
    ({"grid_layout": "tchw"}, "grid_layout"),
])
def test_configs_the_decoder_refuses(tmp_path, capsys, change, message):
    config = HiNeRV.configure(40, 24, 6, 3_000)
    with pytest.raises(ValueError, match=message):
        HiNeRV.check_config({**config, **change})
    path, out = tmp_path / "bad.nvc", tmp_path / "out.y4m"
    c = read_container(_file(config))
    path.write_bytes(write_container({**c.header, "config": {**config, **change}}, c.sections[b"TENS"]))
    assert main(["decode", str(path), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]
    assert not out.exists()


def test_a_damaged_grid_tensor_is_refused(tmp_path, capsys):
    config = HiNeRV.configure(40, 24, 6, 3_000)
    data = bytearray(_file(config))
    data[len(data) // 2] ^= 0xFF  # inside the tensors: the section's CRC no longer holds
    path = tmp_path / "damaged.nvc"
    path.write_bytes(bytes(data))
    assert main(["decode", str(path), "-o", str(tmp_path / "o.y4m"), "--quiet"]) == 2
    assert str(path) in capsys.readouterr().err


def test_base_grid_starts_from_the_content():
    """fit starts the base grid from the frames (HiNeRV.initialize): over a clip that brightens frame by
    frame, the first principal component of each slice follows the brightness of its frame; every channel
    has the start's spread; without content_init the noise start is left as it was."""
    from nvcodec.models.hinerv import GRID_STD
    from nvcodec.training.fit import fit

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 60, (24, 40, 3))
    brightness = np.linspace(20, 180, 12) + np.random.default_rng(1).uniform(-15, 15, 12)  # not a line
    frames = np.stack([texture + b for b in brightness]).astype(np.uint8)
    config = HiNeRV.configure(40, 24, 12, 20_000, shape="grid", base=[(1.0, 4)])  # a slice a frame
    net = HiNeRV(config)
    noise = net.grids[0].detach().clone()
    net.content_init = False
    net.initialize(frames)
    assert torch.equal(net.grids[0], noise)
    net.content_init = True
    with torch.no_grad():
        net.initialize(frames)
    grid = net.slices_first(net.grids[0].detach())  # (slices, channels, h0, w0)
    slices = grid.shape[0]
    at = [round(k * 11 / (slices - 1)) for k in range(slices)]
    first = grid[:, 0].mean((1, 2)).numpy()
    assert abs(np.corrcoef(first, brightness[at])[0, 1]) > 0.99
    assert torch.allclose(grid.transpose(0, 1).reshape(grid.shape[1], -1).std(1), torch.full((grid.shape[1],), GRID_STD),
                          rtol=1e-3)
    # fit calls it before its first step: with a learning rate of 0, a fresh model ends exactly where it starts
    net = HiNeRV(config)
    assert not torch.allclose(net.slices_first(net.grids[0]), grid)
    fit(net, frames, replace(TINY_FIT, epochs=1, lr=0.0, rate_lambda=None))
    assert torch.allclose(net.slices_first(net.grids[0].detach()), grid, atol=1e-6)


def test_only_grids_of_two_or_more_slices_are_predicted():
    one = HiNeRV(HiNeRV.configure(40, 24, 1, 3_000))  # a one-frame clip: a slice, nothing to predict from
    assert one.grids[0].shape[1] == 1 and one.predicted_tensors() == frozenset()
    data = compress(one, VideoInfo(40, 24, 1))
    assert data[4] == 2 and decode_frames(data).shape == (1, 24, 40, 3)
    # no base grid (an MLP stem and local grids): no layout to declare, so older decoders read the file
    assert "grid_layout" not in HiNeRV.configure(40, 24, 6, 3_000, shape="mlp-local")
    assert HiNeRV(HiNeRV.configure(40, 24, 6, 3_000)).predicted_tensors() == {"grids.0"}
