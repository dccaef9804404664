"""The ``nvcodec`` command: a thin layer over the Python API.

    nvcodec encode INPUT -o OUT.nvc [--model nerv] [--params 300k] [--time-budget 5m | --epochs N]
    nvcodec decode IN.nvc -o OUT.mp4|OUT.y4m|OUTDIR/ [--frames 10:20] [--max-memory 4G]
    nvcodec info IN.nvc
    nvcodec demo
    nvcodec bench [--clips bunny carphone bikes] [--models nerv hnerv] [--budget 2m]

Errors a user can fix print one line, ``nvcodec: error: <file>: <problem>``, and exit with 2.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import sys
from pathlib import Path
from typing import Optional, Sequence

from .errors import InputError, NvcodecError


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1h30m', '2m30s' -> seconds."""
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or not m or not any(m.groups()):
        raise InputError(f"time budget {text!r}: expected e.g. 90s, 10m or 1h30m")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = 3600 * h + 60 * mi + s
    if seconds <= 0:
        raise InputError(f"time budget {text!r} must be positive")
    return seconds


def parse_count(text: str) -> int | str:
    """'300000', '300k', '1.5M' -> an integer; a name (a model's preset, e.g. nerv-s) stays a name."""
    if re.fullmatch(r"[a-z][a-z0-9_-]*", text.strip()):
        return text.strip()
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise InputError(f"parameter count {text!r}: expected e.g. 300k, 1.5M or a preset name such as nerv-s")
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    if value < 1:
        raise InputError(f"parameter count {text!r} must be at least 1")
    return int(value)


def parse_memory(text: str) -> int:
    """'2G', '1.5GiB', '512M', '800MB', a plain number of bytes -> bytes (powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise InputError(f"memory {text!r}: expected e.g. 2G, 512M or 1.5GiB")
    value = float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")
    if value < 1:
        raise InputError(f"memory {text!r} must be at least one byte")
    return int(value)


def _arguments() -> argparse.ArgumentParser:
    from .bitstream.container import COLORSPACES
    from .io import MATRICES, RANGES
    from .models import REGISTRY
    from .rawyuv import PIX_FMTS as RAW_PIX_FMTS
    from .rd.runner import BASELINE_ALIASES, BASELINES, DEFAULT_BASELINES, DEFAULT_QUALITIES, DEFAULT_RATES

    parser = argparse.ArgumentParser(prog="nvcodec", description="Neural video compression with implicit neural representations.")
    sub = parser.add_subparsers(dest="command", required=True)

    enc = sub.add_parser("encode", help="compress a video into one .nvc file")
    enc.add_argument("input", help="a video file, a raw .yuv file, a folder of PNGs, or a bundled clip: bunny, bikes, "
                     "carphone")
    enc.add_argument("-o", "--output", required=True, help="the .nvc file to write")
    enc.add_argument("--model", default=None, choices=sorted(REGISTRY), help="architecture (default: hinerv)")
    enc.add_argument("--quality", type=int, default=None, metavar="N",
                     help="rate-aware fitting at quality N, 0 (best, most bits) to 51, like x264's CRF "
                          "(default 24): loss = MSE + lambda(N) * bits per pixel, lambda doubling every 3 steps")
    enc.add_argument("--target-bpp", type=float, default=None, metavar="X",
                     help="instead of --quality: rate control, the file lands near X bits per pixel (lambda is "
                          "steered while fitting; the size and lambda's start default to what the --quality ladder "
                          "pairs with that rate)")
    enc.add_argument("--target-size", type=parse_count, default=None, metavar="BYTES",
                     help="instead of --quality: rate control to a file of about this many bytes, e.g. 60k")
    enc.add_argument("--params", type=parse_count, default=None, help="parameter budget (embeddings included), e.g. 100k (default: from the quality, 95k at 24), or a "
                     "preset: xs, s, m for every model; nerv-s/m/l for nerv; hnerv-0.35m/0.75m/1.5m/3m for hnerv")
    enc.add_argument("--time-budget", type=parse_duration, default=None, help="fitting wall time, e.g. 5m")
    enc.add_argument("--epochs", type=int, default=None, help="fitting epochs (with --time-budget: whichever ends first)")
    enc.add_argument("--group-size", type=int, default=None, metavar="N",
                     help="nirvana: frames per group (default 3)")
    enc.add_argument("--bits", type=int, default=None,
                     help="instead of --quality: fit in float, then quantize to this many bits (2..16; the earlier path)")
    enc.add_argument("--size", default=None, help="resize first, e.g. 320x180 (area resampling)")
    enc.add_argument("--frames", default=None, help="encode frames START:STOP only")
    raw = enc.add_argument_group("raw .yuv input (where the name, e.g. Beauty_1920x1080_120fps_420_8bit_YUV.yuv, "
                                 "does not say; an option wins over the name, but not over its bit depth)")
    raw.add_argument("--input-size", default=None, metavar="WxH", help="frame size of a raw .yuv file, e.g. 1920x1080")
    raw.add_argument("--input-fps", default=None, metavar="FPS",
                     help="frame rate of a raw .yuv file, e.g. 50, 29.97 or 30000/1001 (default: the name's, else 25)")
    raw.add_argument("--pix-fmt", default=None, metavar="FMT",
                     help=f"pixel format of a raw .yuv file: {', '.join(RAW_PIX_FMTS)} (default: the name's _420_ / "
                          "_10bit_, else yuv420p); above 8 bits it is converted to 8-bit RGB, as 10-bit videos are")
    raw.add_argument("--input-matrix", default=None, choices=MATRICES,
                     help="colour matrix of a raw .yuv file (default: bt709 for 720 lines and more, bt601 below)")
    raw.add_argument("--input-range", default=None, choices=RANGES,
                     help="sample range of a raw .yuv file: tv (limited, the default) or pc (full)")
    enc.add_argument("--lr", type=float, default=None, help="peak learning rate")
    enc.add_argument("--loss", choices=("mse", "l1ssim"), default=None, help="fitting loss")
    enc.add_argument("--batch-size", type=int, default=None)
    enc.add_argument("--seed", type=int, default=0)
    enc.add_argument("--colorspace", choices=COLORSPACES, default="rgb",
                     help="what the network renders: rgb, or yuv420 (Y full, U and V half resolution, "
                          "fitted under PSNR-YUV's 6:1:1 weights; decodes straight to yuv420p)")
    enc.add_argument("--device", default="cpu", help="cpu or cuda")
    enc.add_argument("--no-bf16", action="store_true", help="fit in float32 even where bf16 is fast")
    enc.add_argument("--checkpoint-every", type=int, default=50, metavar="N", help="epochs between checkpoints (0: none)")
    enc.add_argument("--resume", action="store_true", help="go on from OUTPUT.ckpt if it is there")
    enc.add_argument("--quiet", action="store_true")
    enc.add_argument("--json", action="store_true", help="print the result as JSON")

    dec = sub.add_parser("decode", help="turn a .nvc file back into a video")
    dec.add_argument("input", help="the .nvc file")
    dec.add_argument("-o", "--output", required=True,
                     help="out.mp4, out.mkv, out.y4m, out.yuv (raw planar, true size), or a folder for PNGs")
    dec.add_argument("--frames", default=None, help="decode frames START:STOP only (others are not rendered)")
    dec.add_argument("--lossless", action="store_true", help="lossless H.264 RGB instead of CRF 12")
    dec.add_argument("--pix-fmt", default=None, metavar="FMT",
                     help=f"a .yuv output's pixel format: {', '.join(RAW_PIX_FMTS)} (default yuv420p; odd sizes "
                          "get chroma planes of ceil(W/2) x ceil(H/2), as FFmpeg's)")
    dec.add_argument("--batch-size", type=int, default=None,
                     help="frames handed to the writer at once (default: by memory); never changes a frame")
    dec.add_argument("--max-memory", type=parse_memory, default=None, metavar="SIZE",
                     help="refuse files whose decoding needs more, e.g. 4G (default: half the memory available)")
    dec.add_argument("--quiet", action="store_true")

    info = sub.add_parser("info", help="what a .nvc file holds, and what each part costs")
    info.add_argument("input")
    info.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo", help="encode and decode the bundled Big Buck Bunny at 320x180 (about 5 minutes)")
    demo.add_argument("-o", "--output-dir", default="nvcodec-demo", help="where to write demo.nvc and demo.mp4")
    demo.add_argument("--time-budget", type=parse_duration, default=parse_duration("4m"))
    demo.add_argument("--quiet", action="store_true")

    bench = sub.add_parser("bench", help="rate-distortion benchmark against x264 / x265, with BD-rates and plots")
    bench.add_argument("--clips", nargs="+", default=["bunny", "carphone", "bikes"], metavar="CLIP[@WxH]",
                       help="bundled clips (at the sizes of docs/benchmark.md unless @WxH is given) or video paths")
    bench.add_argument("--models", nargs="*", default=sorted(REGISTRY), choices=sorted(REGISTRY), metavar="MODEL",
                       help=f"nvcodec models to run (default: all: {', '.join(sorted(REGISTRY))})")
    bench.add_argument("--baselines", nargs="*", default=list(DEFAULT_BASELINES),
                       choices=[*BASELINE_ALIASES, *BASELINES], metavar="CURVE",
                       help=f"baseline curves: {', '.join(BASELINES)} (x264, x265, svtav1: the medium / preset 8 "
                            f"curve); default: {' '.join(DEFAULT_BASELINES)}")
    bench.add_argument("--budget", type=parse_duration, default=parse_duration("2m"),
                       help="fitting wall time per nvcodec point (default 2m)")
    bench.add_argument("--rates", default=",".join(f"{r:g}" for r in DEFAULT_RATES),
                       help="nvcodec's ladder of target rates (bpp), each reached by rate control (with --bits: each "
                            "sets a parameter budget); default %(default)s")
    bench.add_argument("--crf", default=None, help="baseline CRF ladder (default: 18,23,28,33,38,43 for x264 and x265, "
                       "28,35,...,63 for svtav1)")
    bench.add_argument("--qualities", default=None, nargs="?", const=",".join(map(str, DEFAULT_QUALITIES)),
                       help="instead of target rates: a --quality ladder of rate-aware fitting (alone: "
                            f"{','.join(map(str, DEFAULT_QUALITIES))})")
    bench.add_argument("--bits", type=int, default=None,
                       help="instead: nvcodec fitted in float and quantized to this many bits, over the --rates ladder")
    bench.add_argument("--colorspace", choices=COLORSPACES, default="rgb",
                       help="what nvcodec's networks render (yuv420: curves named ...-yuv420)")
    bench.add_argument("--frames", default=None, help="use frames START:STOP of every clip")
    bench.add_argument("-o", "--output-dir", default=os.path.join("bench", "results"), help="results folder (default bench/results)")
    bench.add_argument("--report-only", action="store_true", help="redraw plots and the BD-rate table from the JSON there; run nothing")
    bench.add_argument("--quiet", action="store_true")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _arguments()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return {"encode": cmd_encode, "decode": cmd_decode, "info": cmd_info, "demo": cmd_demo,
                "bench": cmd_bench}[args.command](args)
    except NvcodecError as e:
        print(f"nvcodec: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nvcodec: interrupted", file=sys.stderr)
        return 130


def cmd_encode(args) -> int:
    from .training import parallel
    from .training.encoder import DEFAULT_MODEL, check_output, encode_video
    from .training.fit import FitConfig
    from .io import parse_frames, parse_size, read_video
    from .rawyuv import RawOptions, parse_fps

    output = check_output(args.output)
    raw = RawOptions(parse_size(args.input_size) if args.input_size else None,
                     parse_fps(args.input_fps) if args.input_fps else None, args.pix_fmt, args.input_matrix,
                     args.input_range)
    frames = parse_frames(args.frames) if args.frames else None
    size = parse_size(args.size) if args.size else None
    budget = args.time_budget if args.time_budget or args.epochs else parse_duration("2m")
    checkpoint = f"{output}.ckpt" if args.checkpoint_every or args.resume else None
    options = {k: v for k, v in {"lr": args.lr, "loss": args.loss, "batch_size": args.batch_size}.items() if v is not None}
    cfg = FitConfig(epochs=args.epochs, time_budget=budget, seed=args.seed, device=args.device,
                    bf16=False if args.no_bf16 else None, checkpoint=checkpoint,
                    checkpoint_every=args.checkpoint_every, resume=args.resume, quiet=args.quiet,
                    colorspace=args.colorspace, **options)
    if args.target_bpp is not None and args.target_size is not None:
        raise InputError("give --target-bpp or --target-size, not both")
    if isinstance(args.target_size, str) or (args.target_size is not None and args.target_size <= 0):
        raise InputError(f"--target-size {args.target_size}: expected a positive number of bytes, e.g. 60k")
    model = args.model or DEFAULT_MODEL
    model_options = {}
    if args.group_size is not None:
        if model != "nirvana":
            raise InputError(f"--group-size is for --model nirvana, not {model}")
        model_options["group_size"] = args.group_size
    procs = parallel.current()
    video = read_video(args.input, frames=frames, size=size, keep_yuv=args.colorspace == "yuv420", raw=raw)
    target_bpp = args.target_bpp
    if args.target_size is not None:
        target_bpp = video.info.bpp(args.target_size)
    if not args.quiet and procs.main:
        i = video.info
        print(f"read {args.input}: {i.width}x{i.height}, {i.frames} frames at {float(i.fps):.3f} fps"
              + (f" ({video.note})" if video.note else "")
              + (f"; {procs.size} processes" if procs.size > 1 else ""), file=sys.stderr)
    try:
        result = encode_video(video, output, model=model, params=args.params, quality=args.quality,
                              bits=args.bits, target_bpp=target_bpp, fit_config=cfg, colorspace=args.colorspace,
                              model_options=model_options)
    finally:
        parallel.finish(procs)
    if not procs.main:
        return 0  # rank 0 wrote the file and reports
    if checkpoint and Path(checkpoint).exists():
        os.remove(checkpoint)  # the encode finished: nothing is left to resume
    summary = {"output": result.output, "model": result.model, "parameters": result.parameters,
               "bytes": result.bytes, "bpp": round(result.bpp, 5), "psnr_rgb": round(result.psnr, 3),
               "psnr_rgb_before_quantization": None if result.psnr_float is None else round(result.psnr_float, 3),
               "epochs": result.fit.epochs, "encode_s": round(result.encode_s, 2), "quality": result.quality,
               "target_bpp": result.target_bpp, "reference_sha256": result.reference_sha256}
    if result.processes is not None:
        summary["processes"] = result.processes
    if result.estimated_bits is not None:
        summary.update(estimated_bytes=round(result.estimated_bits / 8), coded_value_bytes=result.coded_bits // 8)
    if result.target_bpp is not None and abs(result.bpp / result.target_bpp - 1) > 0.1:
        print(f"nvcodec: note: {result.output} landed at {result.bpp:.4f} bpp, {100 * (result.bpp / result.target_bpp - 1):+.0f} % "
              "off the target: the model's smallest size or the time budget did not allow closer", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {result.output}: {result.bytes} bytes, {result.bpp:.4f} bpp, PSNR-RGB {result.psnr:.2f} dB "
              + ("" if result.psnr_float is None else f"({result.psnr_float:.2f} with the float weights), ")
              + f"{result.model} {result.parameters} parameters, "
              f"{result.fit.epochs} epochs in {result.encode_s:.1f} s"
              + ("" if result.estimated_bits is None else
                 (f"; quality {result.quality}" if result.quality is not None else f"; target {result.target_bpp:g} bpp")
                 + f": the loss saw {result.estimated_bits / 8:.0f} bytes of coded values, the file holds {result.coded_bits // 8}"))
        for p in result.processes or []:
            work = (f"groups {p['groups'][0]}..{p['groups'][-1]}" if "groups" in p
                    else f"{p['frames_fitted']} frames rendered (data-parallel)")
            print(f"  process {p['rank']}: {work}, {p['steps']} steps in {p['seconds']:.1f} s")
    return 0


def cmd_decode(args) -> int:
    from .bitstream.decoder import decode
    from .io import parse_frames

    frames = parse_frames(args.frames) if args.frames else None
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size {args.batch_size}: must be at least 1")
    result = decode(args.input, args.output, frames=frames, batch_size=args.batch_size,
                    lossless=args.lossless, quiet=args.quiet, max_memory=args.max_memory, pix_fmt=args.pix_fmt)
    if not args.quiet:
        print(f"wrote {result.output}: {result.frames} frames in {result.seconds:.2f} s ({result.fps:.1f} fps)"
              + (f", {result.format}" if result.format else ""))
    return 0


def cmd_info(args) -> int:
    from .bitstream.decoder import load_bitstream

    s = load_bitstream(args.input)
    tensors = sum(s.tensor_bytes.values())
    coded = sum(s.coded_bytes.values())
    counts = {k: t.numel() for k, t in s.model.stored_tensors().items()}
    estimated = sum(s.estimated_bits.values())
    report = {
        "file": s.path, "bytes": s.total_bytes, "bpp": s.bpp, "model": s.container.header["model"],
        "config": s.container.header["config"], "parameters": s.model.num_stored_parameters(),
        "width": s.info.width, "height": s.info.height, "frames": s.info.frames,
        "fps": f"{s.info.fps.numerator}/{s.info.fps.denominator}", "colour": f"{s.info.matrix}/{s.info.range}",
        "sections": s.container.section_sizes,
        "tensors": {k: {"bytes": b, "coded_bytes": s.coded_bytes[k], "estimated_bits": round(s.estimated_bits[k], 1),
                        "bits": s.bits[k], "coding": s.tensor_methods[k],
                        "values": counts[k], "bits_per_value": 8 * b / max(counts[k], 1)}
                    for k, b in s.tensor_bytes.items()},
        "bits_per_parameter": 8 * tensors / max(sum(counts.values()), 1),
        "coded_bytes": coded, "estimated_bits": round(estimated, 1),
        "side_info_bytes": tensors - coded, "container_bytes": s.total_bytes - tensors,
        "overhead_bytes": s.total_bytes - coded,
    }
    keys = s.container.header["config"].get("keys")
    if s.container.chunks is not None:  # an indexed file: what each chunk (a group of frames) costs
        report["chunk_bytes"] = s.container.chunks
        if isinstance(keys, list):
            key_bytes = [b for i, b in enumerate(s.container.chunks) if i in keys]
            rest = [b for i, b in enumerate(s.container.chunks) if i not in keys]
            report["key_chunks"] = keys
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{s.path}: {s.total_bytes} bytes, {s.bpp:.5f} bpp")
    print(f"  video   {s.info.width}x{s.info.height}, {s.info.frames} frames, {report['fps']} fps, {report['colour']}")
    print(f"  model   {report['model']}, {report['parameters']} parameters, config {json.dumps(report['config'])}")
    print("  sections " + ", ".join(f"{k} {v} B" for k, v in s.container.section_sizes.items()))
    print(f"  tensors  {tensors} B: {coded} B coded values + {tensors - coded} B side information "
          f"(bits, quantization steps, entropy models); {report['bits_per_parameter']:.2f} bits a parameter")
    if s.container.chunks is not None:
        line = f"  groups   {len(s.container.chunks)} chunks in the index (INDX)"
        if isinstance(keys, list):
            line += (f": {len(key_bytes)} key groups, median {statistics.median(key_bytes):.0f} B"
                     + (f"; {len(rest)} residual groups, median {statistics.median(rest):.0f} B" if rest else ""))
        print(line)
    print(f"  values   coded {8 * coded} bits, estimated {estimated:.0f} bits (each tensor's integers under the "
          "Laplace fitted to them: the rate rate-aware fitting optimises)"
          + (f", coded/estimated {8 * coded / estimated:.3f}" if estimated else ""))
    print(f"    {'tensor':32s} {'bytes':>9s}  {'bits/value':>10s}  {'coded bits':>10s}  {'estimated':>10s}  range  coding")
    for k, v in report["tensors"].items():
        print(f"    {k:32s} {v['bytes']:9d}  {v['bits_per_value']:10.2f}  {8 * v['coded_bytes']:10d}  "
              f"{v['estimated_bits']:10.0f}  {v['bits']:2d}-bit  {v['coding']}")
    print(f"  overhead {report['overhead_bytes']} B = {100 * report['overhead_bytes'] / s.total_bytes:.1f}% of the file: "
          f"side information {tensors - coded} B + container {report['container_bytes']} B "
          "(magic, version, header, section framing and CRCs)")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.output_dir, time_budget=args.time_budget, quiet=args.quiet)
    return 0


def cmd_bench(args) -> int:
    from .io import parse_frames
    from .rd.runner import Clip, parse_list, report_only, run_benchmark

    if args.bits is not None and args.qualities:
        raise InputError("bench: --qualities is a ladder of rate-aware fitting, --bits quantizes after fitting; "
                         "give one of them")
    frames = parse_frames(args.frames) if args.frames else None
    clips = [Clip.parse(c, frames) for c in args.clips]
    if args.report_only:
        report_only(args.output_dir, [c.label for c in clips])
    else:
        run_benchmark(clips, args.models, args.baselines, budget=args.budget, rates=parse_list(args.rates, float, "--rates"),
                      qualities=parse_list(args.qualities, int, "--qualities", allow_zero=True) if args.qualities else None,
                      crfs=parse_list(args.crf, int, "--crf") if args.crf else None, bits=args.bits, out=args.output_dir,
                      command=shlex.join(["nvcodec", *args.argv]), quiet=args.quiet, colorspace=args.colorspace)
    print(f"results in {args.output_dir}: <clip>/*.json, <clip>/rd.png, bd-rate.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
