"""Peak memory (RSS) of an encode: the full 1280x720 Bunny (132 frames), or a synthetic raw
1920x1080 x 600 yuv420p file (a UVG sequence's size), its decode to .yuv, and the raw readers.

    python bench/encode_memory.py [--epochs 2]            # bunny -> bench/results/encode-memory.json
    python bench/encode_memory.py --raw [--epochs 1]      # -> bench/results/encode-memory-raw.json

Runs ``nvcodec encode`` (default quality, so rate-aware fitting, whose quantized phase starts at
60 % of the budget: within the first epoch when the budget is in epochs) in a child process and
reads that child's peak RSS (wait4). ``--raw`` first writes a synthetic 1920x1080 x 600 yuv420p
file (1.87 GB; a smooth pattern moving 2 pixels a frame) beside a temporary folder, after checking
the disk has room; then times three ways to read it, each in a child of its own over all frames
(numpy memory-mapping, reading each frame by offset as nvcodec.rawyuv does, and FFmpeg's rawvideo
demuxer through PyAV); then encodes it; then decodes the file to .yuv twice, all frames and the
first 60, to show that decoding's memory does not grow with the frames. Everything it wrote is
deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nvcodec.io import write_atomic
from nvcodec.rd.provenance import provenance

RAW_SIZE, RAW_FRAMES, RAW_FPS = (1920, 1080), 600, 50
RAW_NAME = f"Synthetic_{RAW_SIZE[0]}x{RAW_SIZE[1]}_{RAW_FPS}fps_420_8bit_YUV.yuv"

READERS = {
    "memmap": """
mm = np.memmap(path, np.uint8, "r").reshape(frames, -1)
for i in order:
    s += int(np.array(mm[i])[::4096].sum())""",
    "read by offset (nvcodec.rawyuv)": """
from nvcodec.rawyuv import RawReader, format_for
reader = RawReader(path, format_for(path))
for i in order:
    s += int(reader.planes(i)[0][::64, ::64].sum())""",
    "PyAV rawvideo demuxer": """
import av
with av.open(path, format="rawvideo", options={"video_size": "%dx%d" % size, "pixel_format": "yuv420p",
                                               "framerate": "50"}) as c:
    for f in c.decode(video=0):  # in order: random access would need a seek a frame
        s += int(np.frombuffer(f.planes[0], np.uint8)[::4096].sum())""",
}


def run_child(command: list[str], what: str) -> tuple[int, float, str]:
    """(peak RSS in bytes, wall seconds, stdout) of one child process, its own rusage (wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"{what} failed ({child.returncode}): {err.read()[-2000:]}")
        return usage.ru_maxrss * 1024, seconds, out.read()


def write_synthetic(path: Path) -> None:
    """A smooth pattern moving 2 pixels right and 1 down a frame, with chroma of its own: written a
    frame at a time (nothing is held but a wider copy of the first frame)."""
    (w, h), n = RAW_SIZE, RAW_FRAMES
    y, x = np.mgrid[0:h + n, 0:w + 2 * n].astype(np.float32)
    luma = (128 + 60 * np.sin(x / 37) * np.cos(y / 23) + 30 * np.sin((x + y) / 11)).astype(np.uint8)
    cy, cx = y[: (h + n) // 2, : (w + 2 * n) // 2], x[: (h + n) // 2, : (w + 2 * n) // 2]
    u = (128 + 40 * np.sin(cx / 19)).astype(np.uint8)
    v = (128 + 40 * np.cos(cy / 17)).astype(np.uint8)
    with open(path, "wb") as f:
        for t in range(n):
            f.write(np.ascontiguousarray(luma[t:t + h, 2 * t:2 * t + w]).tobytes())
            f.write(np.ascontiguousarray(u[t // 2:t // 2 + h // 2, t:t + w // 2]).tobytes())
            f.write(np.ascontiguousarray(v[t // 2:t // 2 + h // 2, t:t + w // 2]).tobytes())


def compare_readers(path: Path) -> dict:
    out = {}
    for name, body in READERS.items():
        code = (f"import numpy as np, time\npath, frames, size, s = {str(path)!r}, {RAW_FRAMES}, {RAW_SIZE}, 0\n"
                f"order = range(frames)\nbegan = time.perf_counter()\n{body}\nprint(time.perf_counter() - began)")
        peak, _, text = run_child([sys.executable, "-c", code], name)
        seconds = float(text.strip())
        out[name] = {"ms_per_frame": round(1000 * seconds / RAW_FRAMES, 3), "peak_rss_mib": round(peak / 2**20, 1)}
        print(f"  {name}: {out[name]['ms_per_frame']:.2f} ms a frame, peak RSS {out[name]['peak_rss_mib']:.0f} MiB")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: 2 (bunny), 1 (--raw)")
    parser.add_argument("--raw", action="store_true", help="the synthetic 1920x1080 x 600 raw yuv420p file")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    epochs = args.epochs or (1 if args.raw else 2)
    output = args.output or ("bench/results/encode-memory-raw.json" if args.raw else "bench/results/encode-memory.json")
    began = time.perf_counter()
    record = provenance()  # the code that runs: taken before, since others may commit during a long run
    with tempfile.TemporaryDirectory(dir=None) as tmp:
        report: dict = {}
        if args.raw:
            need = 2 * RAW_SIZE[0] * RAW_SIZE[1] * 3 // 2 * RAW_FRAMES + 2**30  # the source, a decode of it, room
            free = shutil.disk_usage(tmp).free
            if free < need:
                raise SystemExit(f"{tmp}: {free / 2**30:.1f} GiB free, this needs {need / 2**30:.1f} GiB")
            source = Path(tmp) / RAW_NAME
            t = time.perf_counter()
            write_synthetic(source)
            print(f"wrote {source.name}: {source.stat().st_size} bytes in {time.perf_counter() - t:.0f} s")
            report["source"] = {"name": RAW_NAME, "bytes": source.stat().st_size, "frames": RAW_FRAMES,
                                "content": "synthetic: a smooth pattern moving 2 px right and 1 down a frame"}
            print("reading every frame once, in order:")
            report["readers"] = compare_readers(source)
            label, clip = f"{RAW_NAME} (1920x1080, {RAW_FRAMES} frames", str(source)
        else:
            label, clip = "bunny 1280x720 (132 frames", "bunny"
        command = [sys.executable, "-m", "nvcodec", "encode", clip, "-o", f"{tmp}/b.nvc", "--epochs",
                   str(epochs), "--quiet", "--checkpoint-every", "0", "--json"]
        peak, seconds, out = run_child(command, "encode")
        result = json.loads(out)
        report.update({"command": " ".join(command[2:]).replace(tmp, "TMP"), "peak_rss_bytes": peak,
                       "peak_rss_gib": round(peak / 2**30, 3), "seconds": round(seconds, 1),
                       "encode": {k: result.get(k) for k in ("parameters", "bytes", "bpp", "psnr_rgb", "quality",
                                                             "epochs", "encode_s")}})
        print(f"encoding {label}, {epochs} epochs, rate-aware): peak RSS {report['peak_rss_gib']:.2f} GiB "
              f"in {seconds:.0f} s")
        if args.raw:
            report["decode"] = {}
            for frames in (None, "0:60"):
                command = [sys.executable, "-m", "nvcodec", "decode", f"{tmp}/b.nvc", "-o", f"{tmp}/d.yuv", "--quiet"]
                command += ["--frames", frames] if frames else []
                peak, seconds, _ = run_child(command, "decode")
                count = RAW_FRAMES if frames is None else 60
                assert os.path.getsize(f"{tmp}/d.yuv") == count * RAW_SIZE[0] * RAW_SIZE[1] * 3 // 2
                os.remove(f"{tmp}/d.yuv")
                report["decode"][f"{count} frames"] = {"command": " ".join(command[2:]).replace(tmp, "TMP"),
                                                      "peak_rss_mib": round(peak / 2**20, 1),
                                                      "seconds": round(seconds, 1)}
                print(f"decoding {count} frames to .yuv: peak RSS {peak / 2**20:.0f} MiB in {seconds:.0f} s")
    report["total_seconds"] = round(time.perf_counter() - began, 1)
    report["provenance"] = record
    write_atomic(Path(output), (json.dumps(report, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
