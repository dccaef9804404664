"""The fuzzer (bench/fuzz.py) itself: its seeds span every format version and model, its
structure-aware cases reach past the CRC check into the index and the group configs, a short
campaign finds nothing, and a decoder that misbehaves is reported."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nvcfile import const_file, header_for
from nvcodec.bitstream.container import read_container
from nvcodec.bitstream.decoder import decode_frames
from nvcodec.errors import BitstreamError
from nvcodec.models import REGISTRY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz  # noqa: E402


@pytest.fixture(scope="module")
def files():
    """Three seeds the real encoder writes (NIRVANA with a cut and two keys; a yuv420 NeRV; hinerv) and
    CONST-tensor files built from the models' own configs: versions 2, 3 and 4; and hinerv's, whose grid
    is coded predicted: version 5."""
    out = fuzz.seeds(["nirvana-cut", "nerv-yuv420", "hinerv"])
    out["nerv-const"] = const_file(header_for("nerv", 20, 12, 4, 2000))
    out["nirvana-const-yuv420"] = const_file(header_for("nirvana", 20, 12, 7, 2000, colorspace="yuv420",
                                                        group_size=2, key_every=2))
    return out


def test_seeds_cover_every_version_and_model(files):
    assert {m for m, *_ in fuzz.ENCODED.values()} == set(REGISTRY)
    assert {c for _, c, *_ in fuzz.ENCODED.values()} == {"rgb", "yuv420"}
    assert {data[4] for data in files.values()} == {2, 3, 4, 5}
    cut = read_container(files["nirvana-cut"]).header["config"]
    assert cut["cuts"] == [5] and cut["keys"] == [0, 3] and cut.get("exact_pe") == 1  # what the encoder writes
    for data in files.values():
        decode_frames(data)


def test_structure_aware_cases_reach_past_the_crc(files):
    import random
    rng = random.Random(1)
    seed = fuzz.analyse("nirvana-cut", files["nirvana-cut"])
    kinds, decoded = {}, 0
    with fuzz.one_thread():
        for _ in range(150):
            kind, data = fuzz.index_case(seed, rng) if rng.random() < 0.6 else ("group-config", fuzz.group_config(seed, rng))
            kinds[kind] = kinds.get(kind, 0) + 1
            try:
                decode_frames(data, max_memory=fuzz.MEMORY_LIMIT)
                decoded += 1
            except BitstreamError as e:
                assert "CRC32" not in str(e) and "please report" not in str(e)
                if kind.startswith("index-") and kind != "index-swap":
                    assert "INDX" in str(e) or "chunk" in str(e), (kind, str(e))
    assert set(kinds) >= {f"index-{k}" for k in ("count", "size", "shift", "overlong", "trailing", "truncate",
                                                  "swap", "drop", "garbage")} | {"group-config"}
    assert decoded > 0  # swapped chunks and new group layouts decode: the cases reach the renderer


def test_a_short_campaign_finds_nothing(files):
    report = fuzz.campaign(files, 500, seed=0, truncate_every=20)
    assert report["findings_count"] == 0, report["findings"]
    assert {s["version"] for s in report["seeds"].values()} == {2, 3, 4, 5}
    assert report["frame_ranges"] > 0 and report["outcomes"].get("decoded", 0) > 0
    assert {"group-config", "section-order", "reindex", "colorspace", "version", "truncate", "field"} \
        <= set(report["by_kind"]) and any(k.startswith("index-") for k in report["by_kind"])
    assert set(report["by_kind"]["section-order"]) == {"BitstreamError"}


def test_a_misbehaving_decoder_is_reported(files):
    small = {"nerv-const": files["nerv-const"]}

    def crashes(data, **_):
        raise ValueError("boom")

    def accepts_anything(data, frames=None, **_):
        n = 4 if frames is None else frames[1] - frames[0]
        return np.zeros((n, 12, 20, 3), np.uint8)

    assert fuzz.campaign(small, 20, decode=crashes, truncate_every=50)["findings_count"] > 0
    report = fuzz.campaign(small, 20, decode=accepts_anything, truncate_every=50)
    assert any(f[2] == "damaged bytes decoded without an error" for f in report["findings"])
