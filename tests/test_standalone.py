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
    new = modules_loaded_by("import nvcodec.decoder", setup_first="import torch")
    assert "nvcodec.decoder" in new
    assert not {"nvcodec.fit", "nvcodec.encoder", "nvcodec.rd", "nvcodec.demo", "nvcodec.baseline",
                "nvcodec.metrics", "tqdm"} & new, sorted(m for m in new if m.startswith(("nvcodec", "tqdm")))


def test_bitstream_and_entropy_load_without_torch():
    new = modules_loaded_by("import nvcodec.bitstream, nvcodec.entropy")
    assert not {"torch", "tqdm", "nvcodec.fit", "nvcodec.decoder"} & new


def test_package_names_still_resolve():
    new = modules_loaded_by("import nvcodec; nvcodec.BitstreamError; nvcodec.FitConfig; nvcodec.MODELS['nerv']")
    assert "nvcodec.fit" in new and "nvcodec.errors" in new
