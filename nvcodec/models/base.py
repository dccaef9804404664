"""The interface every architecture implements, so that fitting, compression, the bitstream and
the decoder never need to know which one they hold.

A model is built from a JSON-able ``config`` alone (the bitstream's header carries it). Its
``stored_tensors()`` are exactly what goes into the file, in a fixed order; everything else it
owns (an encoder network, say) is used while fitting and never stored.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import torch
from torch import nn


def require(config: dict[str, Any], key: str, kind: type, low: float, high: float, length: Optional[tuple[int, int]] = None):
    """config[key] is a ``kind`` in [low, high] (a list of them, of a length in ``length``)."""
    value = config.get(key)
    items = value if length is not None else [value]
    if length is not None and (not isinstance(value, list) or not length[0] <= len(value) <= length[1]):
        raise ValueError(f"config {key!r} must be a list of {length[0]} to {length[1]} items")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float) if kind is float else kind):
            raise ValueError(f"config {key!r} must hold {kind.__name__} values")
        if not low <= item <= high:
            raise ValueError(f"config {key!r} value {item} is outside {low}..{high}")
    return value


@dataclass
class Stage:
    """One step of a model's training plan: fit ``frames`` by training the parameters ``params``
    (the rest frozen; empty: all of them) for ``share`` of the budget (shares are relative).

    ``part``: stages of one part run in one process, in order (an encode spread over processes
    gives each a run of parts). ``quantized_from_start``: a rate-aware fit quantizes from the
    stage's first step (a residual starting at zero has nothing to learn in float first).
    ``steps_from``: the stage whose learned quantization steps start this one's (same shapes)."""

    frames: list[int]
    params: list[str]
    share: float = 1.0
    part: int = 0
    quantized_from_start: bool = False
    steps_from: Optional[int] = None
    batch: Optional[int] = None  # frames a step (None: the fit's batch size)


class INR(nn.Module):
    """Base class: maps frame indices to RGB frames in [0, 1] of size ``config['out_size']``."""

    name: ClassVar[str] = ""
    #: True where forward() needs the frames themselves while fitting (an encoder, as in HNeRV).
    needs_frames: ClassVar[bool] = False
    #: Named sizes (stored parameters) that --params accepts besides a count.
    presets: ClassVar[dict[str, int]] = {}
    #: The size --params defaults to where the model's size does not follow the rate (None: it
    #: does, and the encoder picks it from the quality or the target).
    default_params: ClassVar[Optional[int]] = None
    #: True where configure() takes ``cuts``: the frames where a new shot starts (scenecut.py)
    follows_scene_cuts: ClassVar[bool] = False
    #: Adam's peak learning rate when none is given
    learning_rate: ClassVar[float] = 5e-3
    #: True where an encode can be spread over processes (torchrun): its plan has several parts.
    splits_over_processes: ClassVar[bool] = False

    def __init__(self, config: dict[str, Any], decoder_only: bool = False):
        """``decoder_only``: build just what the bitstream holds (the decoder's side); parts used
        only while fitting (an encoder network) are left out."""
        super().__init__()
        self.config = dict(config)
        self.decoder_only = decoder_only

    @classmethod
    def configure(cls, width: int, height: int, frames: int, params: Optional[int] = None,
                  **options: Any) -> dict[str, Any]:
        """A config for a video of this size, sized to about ``params`` stored parameters."""
        raise NotImplementedError

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> None:
        """Raise ValueError unless ``config`` is one this class can build within sane sizes.
        The decoder calls it on a header's config before building anything."""
        raise NotImplementedError

    @classmethod
    def render_stride(cls, config: dict[str, Any]) -> int:
        """The factor its rendered size is a multiple of (the product of its strides): the
        rendered size must lie within one such step of the video's size."""
        return math.prod(config["strides"])

    def param_groups(self) -> list[dict[str, Any]]:
        """The trained parameters as optimizer groups; a group's ``lr_scale`` multiplies the
        learning rate (HNeRV's encoder learns slower than its decoder). One group, by default."""
        return [{"params": list(self.parameters()), "lr_scale": 1.0}]

    @property
    def out_size(self) -> tuple[int, int]:
        """(height, width) of the frames it renders: the video's size padded to the strides."""
        h, w = self.config["out_size"]
        return int(h), int(w)

    def forward(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        """index: (B,) int64 frame numbers -> (B, 3, H, W) float in [0, 1]."""
        raise NotImplementedError

    @property
    def coarse(self) -> Optional[tuple[int, int]]:
        """(s, C) where the model can render C features at 1/s of its size without its last
        upsampling stage (coarse_features), so that fitting can start at that resolution
        (progressive resolution, FitConfig.coarse_share); None where it cannot (the default)."""
        return None

    def coarse_features(self, index: torch.Tensor, frames: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, C, H/s, W/s) features of the frames at ``index``, without the last upsampling stage;
        fitting puts a head of its own on them (1x1 conv to RGB, never stored)."""
        raise NotImplementedError(f"{self.name} renders no coarse features")

    def prepare_storage(self, frames: torch.Tensor) -> None:
        """Called once after fitting, before stored_tensors(), with the uint8 frames (T, H, W, 3):
        compute what only the frames can give (HNeRV's embeddings). Nothing, by default."""

    def initialize(self, frames: torch.Tensor) -> None:
        """Called by fit once before its first step (a resumed fit then loads its checkpoint over
        it), with the fit's uint8 frames (T, H, W, 3; a raw file's stay lazy): start parameters
        from the content where that helps (the feature-grid model's base grids). Nothing, by default."""

    def before_quantization(self, frames: torch.Tensor, resumed: bool = False) -> None:
        """Called by a rate-aware fit once, just before its quantized phase starts (its quantizers
        then start from the parameters as they are), with the fit's uint8 frames (T, H, W, 3);
        ``resumed``: a fit resumed inside that phase (the parameters are already what it made).
        HNeRV turns its encoder's embeddings into parameters here, so that they are quantized
        and counted in the rate like the weights. Nothing, by default."""

    def stored_tensors(self) -> dict[str, torch.Tensor]:
        """The tensors the bitstream holds, by name, in a fixed order."""
        return dict(self.state_dict())

    def predicted_tensors(self) -> frozenset[str]:
        """The stored tensors the file codes predicted along their axis 1 (each value as its
        difference from the one before: entropy.PREDICT_AXIS1), and whose rate rate-aware
        fitting counts that way: none, by default."""
        return frozenset()

    def load_stored(self, tensors: dict[str, torch.Tensor]) -> None:
        """Set the stored tensors (the decoder's side of stored_tensors). The decoder builds a
        ``decoder_only`` model without initialising it (on ``meta``, then empty CPU tensors), so every
        parameter or buffer forward() reads must be stored, or computed in forward()."""
        self.load_state_dict(tensors, strict=True)

    @classmethod
    def size_for_rate(cls, bpp: float, bits: float, ladder: int) -> Optional[int]:
        """Rate control's network size for a target of ``bpp`` (``bits`` for the whole clip), where
        the model knows better than the encoder's ladder, whose size is ``ladder``
        (encoder.rate_control_start, measured with NeRV); None (the ladder's) by default."""
        return None

    def frame_elements(self) -> tuple[int, int]:
        """(input + output elements of the widest layer, elements of the output) when one frame is
        rendered, from the config alone: the decoder checks the memory this takes before it builds
        anything. By default the model runs once on PyTorch's meta device (shapes, no memory); a
        model may give them in closed form (that run loads torch's compiler: a second or two)."""
        widest = 0

        def measure(module, inputs, output) -> None:
            nonlocal widest
            size = sum(t.numel() for t in inputs if torch.is_tensor(t)) + output.numel()
            widest = max(widest, size)

        hooks = [m.register_forward_hook(measure) for m in self.modules() if not list(m.children())]
        try:
            with torch.no_grad():
                out = self(torch.zeros(1, dtype=torch.int64, device="meta"))
        finally:
            for h in hooks:
                h.remove()
        return widest, out.numel()

    def training_plan(self) -> list[Stage]:
        """The stages fitting goes through, in order; by default one: every frame, every parameter."""
        return [Stage(list(range(self.config["frames"])), [])]

    def begin_stage(self, index: int, first: bool) -> None:
        """Called before stage ``index`` of the plan is fitted (``first``: the first this process
        fits, so the stages before it were not fitted here). Nothing, by default."""

    def chunks(self) -> list[list[str]]:
        """The stored tensors in runs that the file indexes, so that a decoder can skip to one:
        by default a single run of them all."""
        return [list(self.stored_tensors())]

    def chunks_for_frames(self, frames: list[int]) -> list[int]:
        """The chunks that rendering ``frames`` needs (all of them, by default)."""
        return list(range(len(self.chunks())))

    def num_stored_parameters(self) -> int:
        return sum(t.numel() for t in self.stored_tensors().values())
