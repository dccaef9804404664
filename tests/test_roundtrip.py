"""Encoder and standalone decoder agree exactly: integer weights and rendered frames."""
from dataclasses import replace

import numpy as np
import pytest

from conftest import TINY_FIT, make_video
from nvcodec.bitstream.container import read_container
from nvcodec.bitstream.decoder import decode_frames, load_bitstream
from nvcodec.training.encoder import compress, encode_video, render_all
from nvcodec.bitstream.entropy import unpack_tensors
from nvcodec.training.fit import fit
from nvcodec.models import model_class
from nvcodec.bitstream.quant import quantize_tensors


def test_decoder_integers_and_frames_equal_the_encoders(tmp_path, tiny_video):
    info = tiny_video.info
    cls = model_class("nerv")
    model = cls(cls.configure(info.width, info.height, info.frames, 3000))
    fit(model, tiny_video.frames, TINY_FIT)
    expected_ints = quantize_tensors(model.stored_tensors(), 8)
    data = compress(model, info, bits=8)  # the model now holds the dequantized weights
    encoder_frames = render_all(model, info)

    c = read_container(data)
    shapes = [q.values.shape for q in expected_ints.values()]
    decoded, _ = unpack_tensors(c.sections[b"TENS"], shapes, "t")
    for want, got in zip(expected_ints.values(), decoded):
        assert np.array_equal(want.values, got.values)
        assert np.array_equal(want.scales, got.scales)
    assert np.array_equal(decode_frames(data), encoder_frames)


def test_file_size_is_the_bytes_written(tiny_nvc):
    path, result = tiny_nvc
    data = open(path, "rb").read()
    assert result.bytes == len(data)
    stream = load_bitstream(path)
    assert stream.total_bytes == len(data)
    assert stream.bpp == pytest.approx(8 * len(data) / (6 * 40 * 24))


@pytest.mark.parametrize("width, height", [(101, 67), (17, 9), (2, 2), (1, 1)])
def test_odd_sizes_decode_to_exactly_that_size(tmp_path, width, height):
    video = make_video(width, height, frames=3)
    out = tmp_path / "odd.nvc"
    result = encode_video(video, out, params=2000, fit_config=replace(TINY_FIT, epochs=1))
    frames = decode_frames(out)
    assert frames.shape == (3, height, width, 3)
    assert result.info.width == width and result.info.height == height


def test_frame_range_renders_only_those_frames(tiny_nvc, monkeypatch):
    path, _ = tiny_nvc
    full = decode_frames(path)
    stream = load_bitstream(path)
    seen = []
    forward = type(stream.model).forward

    def spy(self, index, frames=None):
        if index.device.type != "meta":  # the decoder's memory estimate runs the model on meta
            seen.append(index.tolist())
        return forward(self, index)

    monkeypatch.setattr(type(stream.model), "forward", spy)
    part = decode_frames(path, frames=(2, 5), batch_size=2)
    assert seen == [[2], [3], [4]]  # one frame a call: its bytes cannot depend on a batch
    assert np.array_equal(part, full[2:5])


@pytest.mark.parametrize("frames, batch_size", [((2, 5), None), ((1, 6), 4), (None, 1), (None, 5), ((5, 6), 3)])
def test_a_frame_decodes_to_the_same_bytes_whatever_range_or_batch(tiny_nvc, frames, batch_size):
    path, _ = tiny_nvc
    full = decode_frames(path)
    start, stop = frames or (0, 6)
    assert np.array_equal(decode_frames(path, frames=frames, batch_size=batch_size), full[start:stop])


def test_quantization_costs_little_and_size_follows_bits(tmp_path, tiny_video):
    results = {bits: encode_video(tiny_video, tmp_path / f"b{bits}.nvc", params=3000, bits=bits, fit_config=TINY_FIT)
               for bits in (4, 8)}
    assert results[4].bytes < results[8].bytes
    assert abs(results[8].psnr - results[8].psnr_float) < 0.5


def test_decoding_is_deterministic(tiny_nvc):
    path, _ = tiny_nvc
    assert np.array_equal(decode_frames(path), decode_frames(path))


def test_decoder_does_not_import_the_fitting_code():
    """The decode path (bitstream/decoder.py and what it imports from nvcodec, read from the source) never
    reaches training/ (fit, encoder) or rd/."""
    import ast
    from pathlib import Path

    import nvcodec

    root = Path(nvcodec.__file__).parent

    def module_file(name: str) -> Path:
        path = root.joinpath(*name.split("."))
        return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")

    seen, todo = set(), ["bitstream.decoder"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:  # relative: inside nvcodec
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
                if target and module_file(target).exists():
                    todo.append(target)
    assert {"bitstream.decoder", "bitstream.container", "bitstream.entropy", "models", "models.hnerv"} <= seen
    assert not [m for m in seen if m.split(".")[0] in ("training", "rd", "demo", "cli")], seen
