"""NIRVANA: groups fitted in turn as residuals, the file's group index, random access, torchrun."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import TINY_FIT, make_video, torchrun
from nvcodec.bitstream.container import VERSION_INDEXED, read_container, uvarint
from nvcodec.bitstream.decoder import decode_frames, load_bitstream
from nvcodec.training.encoder import encode_video
from nvcodec.errors import BitstreamError
from nvcodec.metrics import psnr_rgb
from nvcodec.models import NIRVANA
from nvcodec.training.rate import RateModel

FIT = replace(TINY_FIT, epochs=4)


@pytest.fixture(scope="module")
def nirvana_nvc(tmp_path_factory):
    video = make_video(frames=8)
    path = tmp_path_factory.mktemp("nirvana") / "n.nvc"
    result = encode_video(video, path, model="nirvana", params=3000, fit_config=FIT,
                          model_options={"group_size": 3, "key_every": 2})
    return str(path), result, video


def test_groups_keys_and_plan():
    config = NIRVANA.configure(40, 24, 8, 3000, group_size=3, key_every=2)
    assert config["keys"] == [0, 2]
    model = NIRVANA(config)
    assert model.num_groups == 3 and model.group_frames(2) == [6, 7]
    plan = model.training_plan()
    assert [s.frames for s in plan] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert [s.quantized_from_start for s in plan] == [False, True, False]  # residual 1; keys 0 and 2
    assert plan[1].steps_from == 0 and plan[2].steps_from is None
    assert model.chunks_for_frames([7]) == [2]  # a key: its chain is itself
    assert model.chunks_for_frames([4]) == [0, 1]  # a residual needs its key
    # residuals start at zero: group 1 renders as group 0 until it is fitted
    assert torch.equal(model.layer_weights(1, "conv1"), model.layer_weights(0, "conv1"))
    # a key group after a fitted one starts from that group's weights (the warm start)
    with torch.no_grad():
        model.g1_conv1.add_(0.5)
    model.begin_stage(2, first=False)
    assert torch.equal(model.g2_conv1, model.layer_weights(1, "conv1"))
    before = model.g2_mlp1.clone()
    NIRVANA(config).begin_stage(2, first=True)  # the first stage a process fits: nothing to start from
    assert torch.equal(model.g2_mlp1, before)


def test_scene_cuts_restart_groups_with_a_key():
    from nvcodec.training.scenecut import scene_cuts
    video = make_video(frames=10)
    assert scene_cuts(video.frames) == []  # motion within a shot is no cut
    cut = video.frames.copy()
    cut[6:] = 255 - cut[6:]  # a new shot from frame 6
    assert scene_cuts(cut) == [6]
    config = NIRVANA.configure(40, 24, 10, 3000, group_size=4, cuts=[6])
    model = NIRVANA(config)
    assert model.starts == [0, 4, 6] and config["keys"] == [0, 2]  # group 1 stops short at the cut
    assert model.training_plan()[2].quantized_from_start is False
    with torch.no_grad():
        model.g1_conv1.add_(1.0)
    before = model.g2_conv1.clone()
    model.begin_stage(2, first=False)  # a key at a cut starts fresh, not from the previous shot
    assert torch.equal(model.g2_conv1, before)


def test_processes_split_at_keys():
    config = NIRVANA.configure(40, 24, 30, 3000, group_size=3, processes=3)
    assert config["keys"] == [0, 3, 7]
    parts = [s.part for s in NIRVANA(config).training_plan()]
    assert parts == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="at most 10 processes"):
        NIRVANA.configure(40, 24, 30, 3000, group_size=3, processes=11)
    for bad in (0, 31):
        with pytest.raises(ValueError, match="group size"):
            NIRVANA.configure(40, 24, 30, 3000, group_size=bad)


def test_rate_model_starts_from_given_steps_and_bakes_exactly():
    model = NIRVANA(NIRVANA.configure(40, 24, 6, 3000, group_size=3))
    names = model.names(0)
    first = RateModel(model, names)
    second = RateModel(model, names, init_steps=first.steps() * 0.5)
    assert torch.allclose(second.steps(), first.steps() * 0.5)
    with pytest.raises(ValueError):
        RateModel(model, names[:2], init_steps=first.steps())
    exported = first.export(model)
    first.bake(model)
    for name, q in first.export(model).items():  # the baked values are step x integer: the same integers
        assert np.array_equal(q.values, exported[name].values)


def test_steps_stay_storable_and_garbage_is_never_written():
    """A huge lambda drives steps up without bound; the steps stop where float16 does (all values
    round to 0, no inf x 0 = NaN), and a NaN step is refused rather than written."""
    from nvcodec.bitstream.entropy import QuantizedArray, pack_tensors
    model = NIRVANA(NIRVANA.configure(40, 24, 6, 3000, group_size=3))
    rate = RateModel(model, model.names(0))
    with torch.no_grad():
        rate.log_step.fill_(200.0)
    params, bits = rate.quantized_parameters(model, "hard")
    assert all(torch.isfinite(p).all() and not p.any() for p in params.values()) and float(bits) < 1
    for q in rate.export(model).values():
        assert np.isfinite(q.scales.astype(np.float32)).all() and not q.values.any() and q.bits <= 16
    with pytest.raises(ValueError, match="not storable"):
        pack_tensors([QuantizedArray(np.zeros(3, np.int32), np.array([np.nan], np.float16), 8)])
    with pytest.raises(ValueError, match="not storable"):
        pack_tensors([QuantizedArray(np.zeros(3, np.int32), np.array([1.0], np.float16), 33)])


def test_file_is_indexed_and_decodes_bit_exactly(nirvana_nvc):
    path, result, video = nirvana_nvc
    data = open(path, "rb").read()
    container = read_container(data)
    assert data[4] == VERSION_INDEXED and len(container.chunks) == 3
    assert sum(container.chunks) == len(container.sections[b"TENS"])
    load_bitstream(path)  # parses
    full = decode_frames(path)
    assert full.shape == (8, 24, 40, 3)
    # the encoder's score is that of the frames the file decodes to (not of its own render)
    assert result.psnr == pytest.approx(psnr_rgb(full, video.frames), abs=1e-9)
    # and the decode is exact: one frame at a time renders the same bytes as batches of eight
    assert np.array_equal(decode_frames(path, batch_size=1), full)
    assert result.psnr > 10 and result.fit.rate is not None
    assert sorted(s["stage"] for s in result.fit.stages) == [0, 1, 2]


def test_info_shows_what_each_group_costs(nirvana_nvc, capsys):
    from nvcodec.cli import main
    path, _, _ = nirvana_nvc
    assert main(["info", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chunk_bytes"] == read_container(open(path, "rb").read()).chunks and report["key_chunks"] == [0, 2]
    assert main(["info", path]) == 0
    assert "3 chunks in the index (INDX): 2 key groups" in capsys.readouterr().out


def test_random_access_decodes_only_the_chain(nirvana_nvc):
    path, _, _ = nirvana_nvc
    full = decode_frames(path)
    assert np.array_equal(decode_frames(path, frames=(3, 5)), full[3:5])
    assert np.array_equal(decode_frames(path, frames=(7, 8)), full[7:8])
    assert set(load_bitstream(path, frames=(7, 8)).tensor_bytes) == {f"g2_{n}" for n in ("mlp1", "mlp2", "frame", "conv1", "conv2")}
    assert {k[:2] for k in load_bitstream(path, frames=(4, 5)).tensor_bytes} == {"g0", "g1"}


def _with_index(data: bytes, index: bytes) -> bytes:
    """The file with its INDX payload replaced (CRC recomputed): a lie behind a valid checksum."""
    pos = 5 + 8 + struct.unpack_from("<I", data, 9)[0] + 4
    assert data[pos:pos + 4] == b"INDX"
    end = pos + 8 + struct.unpack_from("<I", data, pos + 4)[0] + 4
    framed = b"INDX" + struct.pack("<I", len(index)) + index
    return data[:pos] + framed + struct.pack("<I", zlib.crc32(framed)) + data[end:]


def test_damaged_group_index_is_refused(nirvana_nvc, tmp_path):
    path, _, _ = nirvana_nvc
    data = open(path, "rb").read()
    sizes = read_container(data).chunks
    shifted = [sizes[0] + 1, sizes[1] - 1, sizes[2]]  # adds up, but a group starts one byte late
    cases = {
        "adds up to": uvarint(3) + b"".join(uvarint(s) for s in sizes[:2]) + uvarint(sizes[2] + 5),
        "lists 2 chunks": uvarint(2) + uvarint(sizes[0]) + uvarint(sizes[1] + sizes[2]),
        "chunk 0": uvarint(3) + b"".join(uvarint(s) for s in shifted),
        "bytes after": uvarint(3) + b"".join(uvarint(s) for s in sizes) + b"\x00",
    }
    for problem, index in cases.items():
        with pytest.raises(BitstreamError, match=problem):
            decode_frames(_with_index(data, index))
    damaged = bytearray(data)
    damaged[data.index(b"INDX") + 9] ^= 0xFF
    bad = tmp_path / "bad.nvc"
    bad.write_bytes(bytes(damaged))
    out = tmp_path / "out.y4m"
    run = subprocess.run([sys.executable, "-m", "nvcodec", "decode", str(bad), "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and not out.exists()
    assert run.stderr.count("\n") == 1 and "INDX" in run.stderr and "CRC32" in run.stderr


def test_bad_nirvana_requests(tmp_path, tiny_clip, capsys):
    out = tmp_path / "x.nvc"
    for args, problem in ((["--group-size", "0"], "group size 0"), (["--group-size", "7"], "group size 7"),
                          (["--bits", "8"], "rate-aware only")):
        run = subprocess.run([sys.executable, "-m", "nvcodec", "encode", tiny_clip, "--model", "nirvana",
                              "--epochs", "1", "-o", str(out), "--quiet", *args], capture_output=True, text=True)
        assert run.returncode == 2, run.stderr
        assert problem in run.stderr and run.stderr.count("\n") == 1 and not out.exists()
    from nvcodec.cli import main
    assert main(["encode", tiny_clip, "--group-size", "2", "-o", str(out)]) == 2
    assert "--group-size is for --model nirvana" in capsys.readouterr().err and not out.exists()


def test_torchrun_two_processes_write_one_file(tmp_path, tiny_clip):
    out = tmp_path / "t.nvc"
    run = torchrun("encode", tiny_clip, "--model", "nirvana", "--group-size", "2", "--epochs", "2",
                    "-o", str(out), "--quiet", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert [p["rank"] for p in summary["processes"]] == [0, 1]
    assert all(p["steps"] > 0 for p in summary["processes"])  # both did fitting work
    assert summary["processes"][0]["groups"] == [0, 1] and summary["processes"][1]["groups"] == [2]
    stream = load_bitstream(out)
    assert stream.model.config["keys"] == [0, 2]  # each process starts its part with a key group
    assert decode_frames(out).shape == (6, 24, 40, 3)
    assert sorted(os.listdir(tmp_path)) == ["t.nvc"]  # one file, nothing half-written beside it
    # more processes than groups: a clear error from each, nothing written
    out.unlink()
    run = torchrun("encode", tiny_clip, "--model", "nirvana", "--group-size", "6", "--epochs", "1",
                    "-o", str(out), "--quiet", cwd=tmp_path)
    assert run.returncode != 0 and "2 processes for 1 groups" in run.stderr and not out.exists()


# ---------------------------------------------------------------- the decoder's cache of chain sums
def _chain_sum(model: NIRVANA, g: int, layer: str) -> torch.Tensor:
    """Group g's layer summed here, independently of layer_weights: its key, then each residual in turn."""
    key = max(k for k in model.config["keys"] if k <= g)
    w = getattr(model, f"g{key}_{layer}").detach().clone()
    for j in range(key + 1, g + 1):
        w = w + getattr(model, f"g{j}_{layer}").detach()
    return w


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


def _long_chain_file(frames: int = 36, key_every: int = 0) -> bytes:
    """A 16x16 file of groups of 3 with random residuals (not fitted), written by the encoder's compress()."""
    from nvcodec.training.encoder import compress
    from nvcodec.io import VideoInfo
    torch.manual_seed(3)
    model = NIRVANA(NIRVANA.configure(16, 16, frames, 2000, group_size=3, key_every=key_every))
    with torch.no_grad():
        for g in range(model.num_groups):
            if g not in model.config["keys"]:
                for name in model.names(g):
                    getattr(model, name).normal_(0, 0.05)
    return compress(model, VideoInfo(16, 16, frames), bits=8)


class _CountChainAdds(torch.overrides.TorchFunctionMode):
    """Counts additions of two flat layers (1, n): the chain sums' additions, not rendering's."""

    def __init__(self):
        super().__init__()
        self.adds = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.add, torch.Tensor.__add__, torch.add) and len(args) == 2 \
                and all(torch.is_tensor(a) and a.dim() == 2 and a.shape[0] == 1 for a in args):
            self.adds += 1
        return func(*args, **(kwargs or {}))


def test_cached_chain_sums_are_the_uncached_sums_bit_for_bit():
    model = NIRVANA(NIRVANA.configure(16, 16, 40, 2000, group_size=2, key_every=7))  # 20 groups, keys 0, 7, 14
    assert model.config["keys"] == [0, 7, 14]
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # residuals of mixed magnitudes, so that the order of the additions shows in the bits
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 10.0 ** torch.randint(-6, 1, p.shape, generator=gen))
    model.cache_chains = True
    order = [*range(20), 5, 5, 19, 3, 14, 13, 0, 8, 6, 7, 12, 1, 19]
    with torch.no_grad():
        for g in order:
            for layer in ("mlp1", "mlp2", "frame", "conv1", "conv2"):
                assert torch.equal(_bits(model.layer_weights(g, layer)), _bits(_chain_sum(model, g, layer)))
        # the test tells orders apart: the chain summed from its far end differs in some bits
        layer = "mlp2"
        backwards = getattr(model, f"g6_{layer}").clone()
        for j in range(5, -1, -1):
            backwards = backwards + getattr(model, f"g{j}_{layer}")
        assert not torch.equal(_bits(backwards), _bits(_chain_sum(model, 6, layer)))
    # with gradients (a fit) nothing is cached: the graph reaches every residual back to the key
    model.zero_grad()
    model.layer_weights(5, "conv1").sum().backward()
    assert all(torch.equal(getattr(model, f"g{j}_conv1").grad, torch.ones_like(model.g0_conv1)) for j in range(6))
    assert model.g6_conv1.grad is None


def test_decode_sums_each_chain_once_and_gives_the_uncached_frames():
    from nvcodec.bitstream.decoder import render
    data = _long_chain_file(36)  # 12 groups, one key: a chain of 11 residuals
    stream = load_bitstream(data)
    assert stream.model.cache_chains and stream.model.config["keys"] == [0]
    with _CountChainAdds() as count:
        full = decode_frames(data)
    assert full.shape == (36, 16, 16, 3)
    assert count.adds == 5 * 11  # one addition a layer a residual group (uncached: 5 * (0+0+0 + 1+1+1 + ... + 11*3))
    stream.model.cache_chains = False
    with _CountChainAdds() as count:
        uncached = np.concatenate(list(render(stream.model, stream.info, list(range(36)))))
    assert count.adds == 5 * 3 * sum(range(12))
    assert np.array_equal(uncached, full)
    with torch.no_grad():  # every group's layers, cached as a decode walks them, are the sums bit for bit
        fresh = load_bitstream(data).model
        for g in range(12):
            for layer in ("mlp1", "conv2"):
                assert torch.equal(_bits(fresh.layer_weights(g, layer)), _bits(_chain_sum(fresh, g, layer)))


def test_random_access_gives_the_full_decodes_bytes(tmp_path):
    from nvcodec.cli import main
    data = _long_chain_file(36, key_every=5)  # keys 0 and 5: ranges inside and across chains
    full = decode_frames(data)
    for a, b in ((0, 36), (20, 21), (16, 30), (14, 16), (35, 36), (2, 17)):
        assert np.array_equal(decode_frames(data, frames=(a, b)), full[a:b]), (a, b)
    stream = load_bitstream(data)  # decoding out of order (cache restarting from a key) changes nothing
    from nvcodec.bitstream.decoder import render
    shuffled = [31, 4, 5, 30, 17, 0, 35, 16, 15]
    got = np.concatenate(list(render(stream.model, stream.info, shuffled, 1)))
    assert np.array_equal(got, full[shuffled])
    path = tmp_path / "chain.nvc"
    path.write_bytes(data)
    assert main(["decode", str(path), "-o", str(tmp_path / "all.y4m"), "--quiet"]) == 0
    assert main(["decode", str(path), "-o", str(tmp_path / "part.y4m"), "--frames", "13:29", "--quiet"]) == 0
    frames_of = lambda p: p.read_bytes().split(b"FRAME\n")[1:]  # noqa: E731
    assert frames_of(tmp_path / "part.y4m") == frames_of(tmp_path / "all.y4m")[13:29]
