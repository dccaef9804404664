"""nvcodec: compress a video by overfitting a small neural decoder to it, and decode it back.

    import nvcodec
    result = nvcodec.encode("bunny", "bunny.nvc", size=(320, 180), fit_config=nvcodec.FitConfig(time_budget=120))
    nvcodec.decode("bunny.nvc", "bunny.mp4")

The names below are loaded on first use (PEP 562), so that ``import nvcodec.bitstream.decoder`` loads
the decoder alone: not the fitting code, the encoder or tqdm.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "Bitstream": "bitstream.decoder", "decode": "bitstream.decoder", "decode_frames": "bitstream.decoder",
    "load_bitstream": "bitstream.decoder",
    "EncodeResult": "training.encoder", "encode": "training.encoder", "encode_video": "training.encoder",
    "BitstreamError": "errors", "InputError": "errors", "NvcodecError": "errors", "OutputError": "errors",
    "FitConfig": "training.fit", "fit": "training.fit",
    "Video": "io", "VideoInfo": "io", "VideoWriter": "io", "read_video": "io", "write_video": "io",
    "MODELS": "models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nvcodec' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), "REGISTRY" if name == "MODELS" else name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
