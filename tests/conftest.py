"""Tiny synthetic clips, so that the suite stays fast on two cores."""
from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from nvcodec.training.encoder import encode_video
from nvcodec.training.fit import FitConfig
from nvcodec.io import Video, VideoInfo, write_video
from nvcodec.models import model_class


def make_video(width: int = 40, height: int = 24, frames: int = 6, seed: int = 0) -> Video:
    """A smooth moving pattern with a little noise: a video an INR can learn something of."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        r = 128 + 100 * np.sin((x + 2 * t) / 6)
        g = 128 + 100 * np.cos((y - t) / 5)
        b = 128 + 60 * np.sin((x + y + 3 * t) / 9)
        img = np.stack([r, g, b], axis=-1) + rng.normal(0, 4, (height, width, 3))
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return Video(out, VideoInfo(width, height, frames, Fraction(25), "bt601", "tv"))


TINY_FIT = FitConfig(epochs=3, quiet=True, batch_size=2, quant_start=0.3)  # tiny fits: more quantized steps


def torchrun(*args: str, cwd) -> subprocess.CompletedProcess:
    """``nvcodec ARGS`` spread over 2 processes by torchrun (gloo), one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "nvcodec", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def tiny_nerv(video: Video, params: int = 3000):
    """A small NeRV for ``video``, its weights from seed 0."""
    import torch

    cls = model_class("nerv")
    torch.manual_seed(0)
    return cls(cls.configure(video.info.width, video.info.height, video.info.frames, params))


@pytest.fixture(scope="session")
def tiny_video() -> Video:
    return make_video()


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory, tiny_video) -> str:
    path = tmp_path_factory.mktemp("clip") / "tiny.mp4"
    write_video(path, tiny_video.frames, tiny_video.info, lossless=True)
    return str(path)


@pytest.fixture(scope="session")
def tiny_nvc(tmp_path_factory, tiny_video):
    path = tmp_path_factory.mktemp("nvc") / "tiny.nvc"
    result = encode_video(tiny_video, path, params=3000, fit_config=TINY_FIT)
    return str(path), result
