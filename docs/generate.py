"""Regenerate the parts of the documentation that come from code or from committed JSON.

    python docs/generate.py          # rewrite them
    python docs/generate.py --check  # exit 1 and name the stale ones (tests/test_docs.py does this)

- docs/usage.md: every command-line option, from nvcodec's argparse parser (nvcodec/cli.py);
- docs/studies.md: the index of bench/studies/, from the header table of each study's README.md;
- README.md, between its ``bd-table`` markers: the BD-rate of the default path (hinerv, rate control)
  per clip, and NeRV's beside it, computed from bench/results/<clip>/*.json with the functions that write
  bench/results/bd-rate.md (``nvcodec bench --report-only``).
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BD_START, BD_END = "<!-- bd-table:start (python docs/generate.py) -->", "<!-- bd-table:end -->"
DEFAULT_CURVE = "nvcodec-hinerv-rc-120s"  # the default path: hinerv, rate-aware fitting with rate control, 2 minutes
NERV_CURVE = "nvcodec-nerv-rc-120s"  # the default until 2026-12-07, beside it


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def usage_md() -> str:
    from nvcodec.cli import _arguments

    parser = _arguments()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    lines = ["# Command line", "",
             "Every option of `nvcodec`, generated from its argparse parser (`nvcodec/cli.py`) by "
             "`python docs/generate.py`; do not edit by hand. The common commands are in the "
             "[README](../README.md#command-line); raw YUV input is in [raw-yuv.md](raw-yuv.md).", ""]
    for name, p in sub.choices.items():
        lines += [f"## `nvcodec {name}`", "", f"{helps.get(name) or p.description or ''}".strip(), "",
                  "| argument | default | what it does |", "|---|---|---|"]
        formatter = p._get_formatter()
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if action.option_strings:
                flag = ", ".join(action.option_strings)
                if action.nargs != 0:
                    metavar = action.metavar or (("{" + ",".join(map(str, action.choices)) + "}") if action.choices
                                                 else action.dest.upper())
                    flag += f" {metavar}"
            else:
                flag = action.metavar or action.dest
            if action.required or not action.option_strings:
                default = "required"
            elif action.nargs == 0:
                default = "off"
            elif action.default is None:
                default = "–"
            elif isinstance(action.default, (list, tuple)):
                default = " ".join(map(str, action.default))
            else:
                default = str(action.default)
            text = formatter._expand_help(action) if action.help and action.help != argparse.SUPPRESS else ""
            if action.help == argparse.SUPPRESS:
                continue
            lines.append(f"| `{_cell(flag)}` | `{_cell(default)}` | {_cell(text)} |")
        lines.append("")
    return "\n".join(lines)


def _study_header(readme: Path) -> dict[str, str]:
    text = readme.read_text()
    title = text.splitlines()[0].removeprefix("# ").strip()
    rows = dict(re.findall(r"^\| ([a-z ]+) \| (.*) \|$", text.split("\n## ", 1)[0], flags=re.M))
    rows["title"] = title
    return rows


def studies_md() -> str:
    lines = ["# Studies", "",
             "Every question that was measured once, newest first: its folder under `bench/studies/` holds the script, the "
             "JSON and a README with the details (tables, commands, the commit). Generated from those READMEs by "
             "`python docs/generate.py`. The maintained tools are listed in [bench/README.md](../bench/README.md).", "",
             "| date | question | verdict | adopted? | folder |", "|---|---|---|---|---|"]
    for readme in sorted((ROOT / "bench" / "studies").glob("*/README.md"), key=lambda p: p.parent.name, reverse=True):
        h = _study_header(readme)
        folder = readme.parent.name
        lines.append(f"| {h.get('date', '?')} | {h.get('question', h['title'])} | {h.get('verdict', '?')} | "
                     f"{h.get('adopted', '?')} | [{folder}](../bench/studies/{folder}/README.md) |")
    return "\n".join(lines) + "\n"


def _bd(d) -> str:
    if d is None or d["overlap_db"] is None:
        return "no overlap"
    if math.isnan(d["pchip"]):
        return "n/a"
    lo, hi = d["overlap_db"]
    return f"{d['pchip']:+.0f} % ({lo:.1f}–{hi:.1f} dB)"


def bd_table() -> str:
    from nvcodec.rd.runner import bd_point, load_curves, strongest_baseline

    lines = ["| clip | vs x264 medium | vs the strongest x264 / x265 curve | strongest | NeRV vs x264 medium | JSON |",
             "|---|---|---|---|---|---|"]
    results = ROOT / "bench" / "results"
    for clip in ("carphone", "bunny", "bikes"):
        curves = load_curves(results / clip)
        ours = curves[DEFAULT_CURVE]
        size = "×".join(map(str, ours["meta"]["setup"]["size"]))
        best = strongest_baseline(curves)
        lines.append(f"| {clip} {size} | {_bd(bd_point(curves['x264-medium'], ours, 'psnr-rgb'))} | "
                     f"{_bd(bd_point(curves[best], ours, 'psnr-rgb'))} | {best} | "
                     f"{_bd(bd_point(curves['x264-medium'], curves[NERV_CURVE], 'psnr-rgb'))} | "
                     f"`bench/results/{clip}/{DEFAULT_CURVE}.json` |")
    return "\n".join(lines)


def readme_with_bd_table(readme: str) -> str:
    start, end = readme.index(BD_START) + len(BD_START), readme.index(BD_END)
    return readme[:start] + "\n" + bd_table() + "\n" + readme[end:]


def outputs() -> dict[Path, str]:
    readme = ROOT / "README.md"
    return {ROOT / "docs" / "usage.md": usage_md(), ROOT / "docs" / "studies.md": studies_md(),
            readme: readme_with_bd_table(readme.read_text())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is stale")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else None
        if current != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(text)
    if args.check and stale:
        print("stale (run python docs/generate.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    if not args.check:
        print("rewrote: " + (", ".join(map(str, stale)) or "nothing (all current)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
