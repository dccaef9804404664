"""Native yuv420 fitting (--colorspace yuv420): Y at full resolution, U and V averaged over 2x2
blocks, decoded straight to yuv420p planes, at even and odd sizes."""
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import TINY_FIT, make_video
from nvcfile import nvc
from nvcodec.bitstream.container import read_container, write_container
from nvcodec.bitstream.decoder import chroma_average, decode, decode_frames, decode_yuv420, load_bitstream, render_yuv420
from nvcodec.training.encoder import encode_video
from nvcodec.errors import BitstreamError
from nvcodec.io import read_video, rgb_frames_to_yuv420, yuv420_to_444


@pytest.mark.parametrize("width, height", [(40, 24), (37, 23)])
def test_repeated_chroma_averages_back_to_the_planes(width, height):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 256, (2, height, width), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (2, (height + 1) // 2, (width + 1) // 2), dtype=np.uint8) for _ in range(2))
    full = yuv420_to_444(y, u, v)
    assert full.shape == (2, height, width, 3) and np.array_equal(full[..., 0], y)
    back = chroma_average(torch.from_numpy(full[..., 1:]).permute(0, 3, 1, 2).float())
    assert torch.equal(back.round().to(torch.uint8).permute(0, 2, 3, 1), torch.from_numpy(np.stack([u, v], -1)))


@pytest.mark.parametrize("width, height", [(40, 24), (37, 23)])
def test_yuv420_file_decodes_to_the_planes_it_was_fitted_to(tmp_path, width, height):
    """Odd sizes: U and V are ceil(W/2) x ceil(H/2), the last column/row of blocks averages the
    samples inside the frame; y4m carries yuv420p at any size, mp4 at odd sizes goes through RGB
    as 4:4:4 (4:2:0 H.264 needs even sizes)."""
    video = make_video(width, height, frames=4)
    path = tmp_path / "v.nvc"
    result = encode_video(video, path, params=3000, bits=8, fit_config=replace(TINY_FIT, epochs=60, lr=1e-2),
                          colorspace="yuv420")
    stream = load_bitstream(path)
    assert json.loads(read_container(path.read_bytes()).sections[b"HEAD"])["colorspace"] == "yuv420"
    assert stream.info.colorspace == "yuv420"
    y, u, v = decode_yuv420(path)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    assert y.shape == (4, height, width) and u.shape == v.shape == (4, ch, cw)
    # the planes are what the fit aimed at: closer to the source's planes than a flat grey
    src = rgb_frames_to_yuv420(video.frames, "bt601", "tv")
    assert np.abs(y.astype(int) - src[0]).mean() < np.abs(128 - src[0].astype(int)).mean()
    # straight to yuv420p: the y4m holds exactly these planes
    decode(path, tmp_path / "v.y4m")
    back = read_video(tmp_path / "v.y4m", keep_yuv=True)
    assert all(np.array_equal(a, b) for a, b in zip(back.yuv, (y, u, v)))
    # RGB outputs (frames in memory, mp4) come from the same planes
    rgb = decode_frames(path)
    assert rgb.shape == (4, height, width, 3)
    assert abs(result.psnr - float(np.mean([10 * np.log10(255 ** 2 / max(np.mean((rgb[i].astype(float) - video.frames[i]) ** 2), 1e-10))
                                            for i in range(4)]))) < 1e-6
    decode(path, tmp_path / "v.mp4")
    assert read_video(tmp_path / "v.mp4").frames.shape == (4, height, width, 3)


def test_unknown_colorspace_in_a_header_is_refused(tmp_path):
    video = make_video(16, 8, frames=2)
    path = tmp_path / "v.nvc"
    encode_video(video, path, model="nerv", params=2000, fit_config=replace(TINY_FIT, epochs=1), colorspace="yuv420")
    container = read_container(path.read_bytes())
    header = json.loads(container.sections[b"HEAD"])
    data = path.read_bytes()
    assert data[4] == 3  # yuv420 files are version 3; RGB files stay version 2 (older decoders refuse, not misread)
    with pytest.raises(BitstreamError, match="unknown colorspace"):
        load_bitstream(nvc({**header, "colorspace": "yuv422"}, container.sections[b"TENS"], version=3))
    with pytest.raises(BitstreamError, match="does not match its colorspace"):
        load_bitstream(nvc(header, container.sections[b"TENS"], version=2))
    rgb = {k: v for k, v in header.items() if k != "colorspace"}
    with pytest.raises(BitstreamError, match="does not match its colorspace"):
        load_bitstream(nvc(rgb, container.sections[b"TENS"], version=3))
    assert write_container(rgb, container.sections[b"TENS"])[4] == 2


def test_cli_refuses_yuv420_with_the_ssim_loss(tmp_path, tiny_clip):
    out = tmp_path / "x.nvc"
    proc = subprocess.run([sys.executable, "-m", "nvcodec", "encode", tiny_clip, "-o", str(out), "--colorspace", "yuv420",
                           "--loss", "l1ssim", "--epochs", "1", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2 and "yuv420" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_yuv420_distortion_is_the_weighted_mse_with_psnr_yuvs_gradient():
    """Its value is (6 MSE_Y + MSE_U + MSE_V) / 8 (chroma averaged 2x2); its gradient points where
    PSNR-YUV's does, so the ~10x smaller chroma errors are not neglected."""
    from nvcodec.training.fit import distortion

    torch.manual_seed(0)
    target = torch.rand(2, 3, 9, 11)
    out = (target + torch.randn_like(target) * torch.tensor([0.2, 0.02, 0.05])[None, :, None, None]).requires_grad_()
    d = distortion("yuv420", out, target)
    pool = lambda x: torch.nn.functional.avg_pool2d(x, 2, ceil_mode=True)
    mse = [((out[:, :1] - target[:, :1]) ** 2).mean(), ((pool(out[:, 1:2]) - pool(target[:, 1:2])) ** 2).mean(),
           ((pool(out[:, 2:3]) - pool(target[:, 2:3])) ** 2).mean()]
    assert torch.allclose(d, (6 * mse[0] + mse[1] + mse[2]) / 8)
    (g,) = torch.autograd.grad(d, out)
    psnr_yuv = sum(w * -10 * torch.log10(m) for w, m in zip((6 / 8, 1 / 8, 1 / 8), mse))
    (h,) = torch.autograd.grad(psnr_yuv, out)
    cosine = torch.nn.functional.cosine_similarity(g.flatten(), -h.flatten(), dim=0)
    assert cosine > 0.9999
    assert torch.equal(distortion("rgb", target, target), torch.tensor(0.0))


def test_the_decoder_converts_each_frame_before_rendering_the_next(tmp_path):
    """Memory: the decoder's checks budget one float frame; a batch's frames must not all be
    alive as floats at once (RGB and yuv420 alike)."""
    from nvcodec.bitstream.decoder import render

    video = make_video(16, 8, frames=4)
    for colorspace in ("rgb", "yuv420"):
        path = tmp_path / f"{colorspace}.nvc"
        encode_video(video, path, params=2000, fit_config=replace(TINY_FIT, epochs=1), colorspace=colorspace)
        stream = load_bitstream(path)
        alive, peak = [], []
        forward = stream.model.forward

        def counting(index, frames=None):
            out = forward(index, frames)
            alive.append(1)
            peak.append(len(alive))
            import weakref
            weakref.finalize(out, alive.pop)
            return out

        stream.model.forward = counting
        batches = list((render_yuv420 if colorspace == "yuv420" else render)(stream.model, stream.info, [0, 1, 2, 3], 4))
        assert len(batches) == 1 and max(peak) == 1, colorspace
