"""nvcodec: compress a video by overfitting a small neural decoder to it, and decode it back.

    import nvcodec
    result = nvcodec.encode("bunny", "bunny.nvc", size=(320, 180), fit_config=nvcodec.FitConfig(time_budget=120))
    nvcodec.decode("bunny.nvc", "bunny.mp4")
"""
from .decoder import Bitstream, decode, decode_frames, load_bitstream
from .encoder import EncodeResult, encode, encode_video
from .errors import BitstreamError, InputError, NvcodecError, OutputError
from .fit import FitConfig, fit
from .io import Video, VideoInfo, VideoWriter, read_video, write_video
from .models import REGISTRY as MODELS

__version__ = "0.1.0"

__all__ = ["Bitstream", "BitstreamError", "EncodeResult", "FitConfig", "InputError", "MODELS", "NvcodecError",
           "OutputError", "Video", "VideoInfo", "VideoWriter", "decode", "decode_frames", "encode",
           "encode_video", "fit", "load_bitstream", "read_video", "write_video"]
