"""The decoder loads alone: importing it pulls in neither the fitting code nor the encoder, and
the entropy coder and container load without torch at all (checked in fresh processes)."""
import json
import subprocess
import sys



def modules_loaded_by(statement: str, setup_first: str = "") -> set[str]:
    code = f"import json, sys\n{setup_first}\nbefore = set(sys.modules)\n{statement}\nprint(json.dumps(sorted(set(sys.modules) - before)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout))


def test_import_decoder_loads_no_fitting_code():
    # torch itself imports tqdm (torch.hub), so torch is loaded first: what is left is nvcodec's doing
    new = modules_loaded_by("import nvcodec.bitstream.decoder", setup_first="import torch")
    assert "nvcodec.bitstream.decoder" in new
    assert not {"nvcodec.training.fit", "nvcodec.training.encoder", "nvcodec.rd.runner", "nvcodec.demo", "nvcodec.rd.baseline",
                "nvcodec.metrics", "tqdm"} & new, sorted(m for m in new if m.startswith(("nvcodec", "tqdm")))


def test_bitstream_and_entropy_load_without_torch():
    new = modules_loaded_by("import nvcodec.bitstream.container, nvcodec.bitstream.entropy")
    assert not {"torch", "tqdm", "nvcodec.training.fit", "nvcodec.bitstream.decoder"} & new


def test_package_names_still_resolve():
    new = modules_loaded_by("import nvcodec; nvcodec.BitstreamError; nvcodec.FitConfig; nvcodec.MODELS['nerv']")
    assert "nvcodec.training.fit" in new and "nvcodec.errors" in new


def test_each_side_imports_only_what_its_rule_allows():
    """The package's sides: bitstream/ and models/ (what a decoder needs) load nothing from training/ or
    rd/; training/ loads nothing from rd/ (each module imported alone, in a fresh process)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "nvcodec"
    rules = {"bitstream": ("nvcodec.training", "nvcodec.rd"), "models": ("nvcodec.training", "nvcodec.rd"),
             "training": ("nvcodec.rd",)}
    for side, forbidden in rules.items():
        for path in sorted((root / side).glob("*.py")):
            module = f"nvcodec.{side}" + ("" if path.stem == "__init__" else f".{path.stem}")
            new = modules_loaded_by(f"import {module}")
            assert module in new
            bad = sorted(m for m in new if m.startswith(forbidden))
            assert not bad, f"{module} loads {bad}"
