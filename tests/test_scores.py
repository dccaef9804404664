"""Scores come from the bytes: what `nvcodec encode --json` reports is what `nvcodec decode` of the
file it wrote scores, for every model, with the fingerprint of the frames it was scored against."""
import hashlib
import json

import numpy as np
import pytest

from nvcodec.cli import main
from nvcodec.io import read_video
from nvcodec.metrics import frames_sha256, psnr_rgb


@pytest.mark.parametrize("model", ["nerv", "hnerv", "nervpp", "nirvana"])
def test_encode_json_psnr_is_the_decoded_files_score(tmp_path, tiny_clip, tiny_video, capsys, model):
    nvc, pngs = tmp_path / "t.nvc", tmp_path / "frames"
    capsys.readouterr()
    args = ["encode", tiny_clip, "-o", str(nvc), "--model", model, "--epochs", "3", "--quiet", "--json"]
    assert main(args + ([] if model == "nirvana" else ["--params", "4k"])) == 0
    report = json.loads(capsys.readouterr().out)
    assert main(["decode", str(nvc), "-o", str(pngs), "--quiet"]) == 0
    decoded = read_video(pngs).frames  # PNGs: the decoder's RGB, losslessly
    reference = read_video(tiny_clip).frames
    assert report["psnr_rgb"] == pytest.approx(psnr_rgb(decoded, reference), abs=1e-3)
    assert report["reference_sha256"] == hashlib.sha256(reference.tobytes()).hexdigest()
    if model != "nirvana" or report["psnr_rgb_before_quantization"] is not None:
        assert np.isfinite(report["psnr_rgb_before_quantization"])


def test_frames_sha256_is_the_hash_of_the_bytes_in_any_chunking(tiny_video):
    frames = tiny_video.frames
    want = hashlib.sha256(frames.tobytes()).hexdigest()
    assert frames_sha256(frames) == want == frames_sha256(frames, chunk=1)
    assert frames_sha256(np.asfortranarray(frames)) == want  # the logical order, not the memory layout
    changed = frames.copy()
    changed[-1, -1, -1, -1] ^= 1
    assert frames_sha256(changed) != want
    with pytest.raises(ValueError, match="uint8"):
        frames_sha256(frames.astype(np.float32))
