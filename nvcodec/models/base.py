"""The interface every architecture implements, so that fitting, compression, the bitstream and
the decoder never need to know which one they hold.

A model is built from a JSON-able ``config`` alone (the bitstream's header carries it). Its
``stored_tensors()`` are exactly what goes into the file, in a fixed order; everything else it
owns (an encoder network, say) is used while fitting and never stored.
"""
from __future__ import annotations

import math
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


class INR(nn.Module):
    """Base class: maps frame indices to RGB frames in [0, 1] of size ``config['out_size']``."""

    name: ClassVar[str] = ""
    #: True where forward() needs the frames themselves while fitting (an encoder, as in HNeRV).
    needs_frames: ClassVar[bool] = False
    #: Named sizes (stored parameters) that --params accepts besides a count.
    presets: ClassVar[dict[str, int]] = {}

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

    def prepare_storage(self, frames: torch.Tensor) -> None:
        """Called once after fitting, before stored_tensors(), with the uint8 frames (T, H, W, 3):
        compute what only the frames can give (HNeRV's embeddings). Nothing, by default."""

    def stored_tensors(self) -> dict[str, torch.Tensor]:
        """The tensors the bitstream holds, by name, in a fixed order."""
        return dict(self.state_dict())

    def load_stored(self, tensors: dict[str, torch.Tensor]) -> None:
        """Set the stored tensors (the decoder's side of stored_tensors). The decoder builds a
        ``decoder_only`` model without initialising it (on ``meta``, then ``to_empty``), so every
        parameter or buffer forward() reads must be stored, or computed in forward()."""
        self.load_state_dict(tensors, strict=True)

    def num_stored_parameters(self) -> int:
        return sum(t.numel() for t in self.stored_tensors().values())
