"""The architectures, by name. Adding one is adding a file and a line here."""
from __future__ import annotations

from typing import Any

from .base import INR, Stage
from .hinerv import HiNeRV
from .hnerv import HNeRV
from .nerv import NeRV
from .nervpp import NeRVPP
from .nirvana import NIRVANA

REGISTRY: dict[str, type[INR]] = {cls.name: cls for cls in (NeRV, HNeRV, NeRVPP, NIRVANA, HiNeRV)}


def model_class(name: str) -> type[INR]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)}") from None


def build(name: str, config: dict[str, Any]) -> INR:
    """The model ``name`` built from its config (as the bitstream's header carries it)."""
    return model_class(name)(config)


__all__ = ["INR", "REGISTRY", "Stage", "build", "model_class"]
