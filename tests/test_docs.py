"""The documentation agrees with the code and the committed files: generated parts are current,
every repository path it cites exists, every JSON under bench/ carries its commit, and the
README's quick start decodes the committed sample."""
from __future__ import annotations

import glob
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "run `python docs/generate.py` and commit what it rewrites"


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["docs/usage.md", "docs/studies.md", "README.md"])
def test_generated_docs_are_current(name):
    """docs/usage.md (every CLI option, from argparse), docs/studies.md (from the studies' READMEs)
    and the README's BD table (from bench/results JSON) equal what docs/generate.py writes."""
    expected = _generator().outputs()[ROOT / name]
    assert (ROOT / name).read_text() == expected, f"{name} is stale: {REGENERATE}"


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 200, f"README.md has {lines} lines; details belong in docs/"


# ------------------------------------------------------------------ cited paths exist
_PATH = re.compile(r"(?<![\w./-])((?:nvcodec|bench|docs|tests|samples)/[\w.<>*{},/-]*[\w>*}/])")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")

#: Citations in files other developers are editing right now, of paths that moved when bench/ was split
#: into tools and studies: (file, cited path) -> where it lives now. Update the citation, then drop the entry.
PENDING: dict = {}  # (file, cited path) -> where it moved: citations not yet fixed (none)
#: Paths that are written, not read: outputs of commands and folders a run creates.
_OUTPUTS = ("nvcodec-demo", "bench/results/<clip>/streams")
#: Pages another piece of work in progress writes; drop an entry once the page is committed (none).
_FORTHCOMING: set = set()


def _exists(path: str, base: Path) -> bool:
    path = path.rstrip("/.,;:")
    if path.startswith(_OUTPUTS) or path in _FORTHCOMING or not path:
        return True
    pattern = re.sub(r"<[^>]+>", "*", path)
    choices = re.search(r"\{([^}]*)\}", pattern)
    if choices:
        return all(_exists(pattern.replace(choices.group(0), c, 1), base) for c in choices.group(1).split(","))
    return bool(glob.glob(str(base / pattern))) or bool(glob.glob(str(ROOT / pattern)))


def _cited(text: str) -> set[str]:
    return {m.group(1) for m in _PATH.finditer(text)}


def _docs() -> list[Path]:
    return [ROOT / "README.md", ROOT / "bench" / "README.md", ROOT / "samples" / "README.md",
            *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "bench" / "studies").glob("*/README.md"))]


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_cited_in_docs_exist(doc):
    text = doc.read_text()
    missing = sorted(p for p in _cited(text) if not _exists(p, doc.parent))
    links = [m.group(1) for m in _LINK.finditer(text) if "://" not in m.group(1)]
    missing += sorted(p for p in links if not _exists(p, doc.parent))
    assert not missing, f"{doc.relative_to(ROOT)} cites paths that do not exist: {missing}"


def test_paths_cited_in_the_package_exist():
    missing = []
    for source in sorted((ROOT / "nvcodec").rglob("*.py")):
        name = str(source.relative_to(ROOT))
        for path in _cited(source.read_text()):
            if (name, path) in PENDING or _exists(path, ROOT):
                continue
            missing.append(f"{name}: {path}")
    assert not missing, f"the package's docstrings and comments cite paths that do not exist: {missing}"


# ------------------------------------------------------------------ bench/
def _has_commit(obj) -> bool:
    if isinstance(obj, dict):
        return any((k == "commit" and isinstance(v, str) and v) or _has_commit(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_has_commit(x) for x in obj)
    return False


def test_every_bench_json_carries_its_commit():
    lacking = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "bench").rglob("*.json"))
               if not _has_commit(json.loads(p.read_text()))]
    assert not lacking, (f"JSON without a commit: {lacking}; record nvcodec.rd.provenance.provenance() in the script "
                         "that writes them")


#: Replaced curves left in bench/results on purpose (none).
_ADDED_DURING_THE_SPLIT: set = set()


def test_bench_results_holds_current_curves_only():
    """A replaced curve goes to the dated study that replaced it (bench/studies/), not a suffix."""
    replaced = re.compile(r"-(slowsteps|unfused|slowquant|before|run\d|new-\d|old-\d|sei-counted)(\.json$|-)")
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "bench" / "results").rglob("*.json")
             if replaced.search(p.name) and p.name not in _ADDED_DURING_THE_SPLIT]
    assert not found, f"replaced curves in bench/results: {found}"


def test_every_study_has_a_readme_with_its_header():
    for folder in sorted((ROOT / "bench" / "studies").iterdir()):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+", folder.name), folder.name
        text = (folder / "README.md").read_text()
        for key in ("date", "issue", "question", "commit", "verdict", "adopted", "changed the code"):
            assert f"| {key} |" in text, f"{folder.name}/README.md: no {key!r} in its header"


# ------------------------------------------------------------------ the sample file
def test_sample_decodes_as_recorded():
    """The README's quick start: samples/carphone-30f.nvc decodes to the frames its JSON scored."""
    from nvcodec.bitstream.decoder import decode_frames
    from nvcodec.io import read_video
    from nvcodec.metrics import psnr_rgb

    record = json.loads((ROOT / "samples" / "carphone-30f.json").read_text())["result"]
    frames = decode_frames(ROOT / "samples" / "carphone-30f.nvc")
    assert frames.shape == (30, 144, 176, 3) and frames.dtype == np.uint8
    reference = read_video("carphone", frames=(0, 30)).frames
    assert psnr_rgb(reference, frames) == pytest.approx(record["psnr_rgb"], abs=0.01)


def test_readme_layout_names_every_module():
    """The README's Layout block names each folder of the package and, for each, exactly the modules in it."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```")[1]
    listed: dict[str, set[str]] = {}
    folder = None
    for line in block.splitlines():
        if line and not line[0].isspace():
            folder = line.split()[0]
        if folder and folder.startswith("nvcodec/"):
            listed.setdefault(folder, set()).update(re.findall(r"\b(\w+\.py)\b", line))
    on_disk = {f"{d.relative_to(ROOT)}/": {p.name for p in d.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
               for d in [ROOT / "nvcodec", *(p.parent for p in (ROOT / "nvcodec").glob("*/__init__.py"))]}
    listed = {k: v - {"__init__.py"} for k, v in listed.items()}
    assert listed == on_disk
