"""The optimizers fitting uses: Adam, or Muon for the weight matrices with Adam for the rest.

Muon (Jordan et al., 2024) keeps a momentum of each weight matrix's gradient and steps along its
orthogonalized direction: the update's singular values pushed towards 1 by a few Newton-Schulz
iterations, so that every direction of the matrix learns at the same pace. A convolution's
weight counts as the matrix (out channels, in channels x kernel). Biases, small matrices and
what a model marks ``"muon": False`` in its parameter groups stay with Adam.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch

#: the quintic Newton-Schulz iteration's coefficients (Jordan et al.: the steepest slope at zero
#: that still keeps the singular values within about 0.7..1.2)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
OPTIMIZERS = ("adam", "muon")


def orthogonalize(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """A matrix with ``g``'s singular vectors and singular values near 1 (float32)."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / (x.norm() + 1e-7)  # the spectral norm at most 1
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Momentum (Nesterov), orthogonalized, scaled by sqrt(max(1, rows / cols)) as Jordan et al.
    Any tensor of two or more dimensions; it is stepped as (size(0), rest)."""

    def __init__(self, params: Iterable, lr: float = 0.02, momentum: float = 0.95, ns_steps: int = 5):
        super().__init__(params, {"lr": lr, "momentum": momentum, "ns_steps": ns_steps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(p.grad, memory_format=torch.contiguous_format)
                buf = state["momentum"]
                g = p.grad.contiguous()  # channels_last gradients: the same values, plainly laid out
                buf.lerp_(g, 1 - group["momentum"])
                update = g.lerp(buf, group["momentum"])
                rows = update.shape[0]
                cols = update.numel() // rows
                u = orthogonalize(update.reshape(rows, cols), group["ns_steps"])
                p.add_(u.view(p.shape).to(p.dtype), alpha=-group["lr"] * math.sqrt(max(1.0, rows / cols)))
        return None


def muon_eligible(p: torch.Tensor) -> bool:
    """A weight matrix (or convolution) with at least 4 rows and 4 columns: a 3-channel output
    head, a bias or a scale stays with Adam."""
    return p.ndim >= 2 and p.shape[0] >= 4 and p.numel() // p.shape[0] >= 4


class Optimizers:
    """Adam and Muon stepped together, with one list of parameter groups (each group keeps its
    ``lr_scale``, relative to the fit's learning rate), one state dict, and new groups (the
    quantization steps) going to Adam."""

    def __init__(self, adam: torch.optim.Optimizer, muon: torch.optim.Optimizer | None):
        self.adam, self.muon = adam, muon

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.adam.param_groups + (self.muon.param_groups if self.muon else [])

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.adam.zero_grad(set_to_none=set_to_none)
        if self.muon:
            self.muon.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.adam.step()
        if self.muon:
            self.muon.step()

    def add_param_group(self, group: dict[str, Any]) -> None:
        self.adam.add_param_group(group)

    def state_dict(self) -> dict[str, Any]:
        return {"adam": self.adam.state_dict(), **({"muon": self.muon.state_dict()} if self.muon else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != ({"adam", "muon"} if self.muon else {"adam"}):
            raise ValueError("optimizer state of another kind")
        self.adam.load_state_dict(state["adam"])
        if self.muon:
            self.muon.load_state_dict(state["muon"])


def make_optimizer(groups: list[dict[str, Any]], kind: str, lr: float, betas: tuple[float, float],
                   muon_lr: float, fused: bool) -> Optimizers:
    """``groups``: the model's parameter groups (params, lr_scale, optionally ``muon``: False)."""
    adam_groups, muon_groups = [], []
    for g in groups:
        params = g["params"]
        use_muon = kind == "muon" and g.get("muon", True)
        matrices = [p for p in params if use_muon and muon_eligible(p)]
        ids = {id(p) for p in matrices}
        rest = [p for p in params if id(p) not in ids]
        extra = {k: v for k, v in g.items() if k not in ("params", "muon")}
        if rest:
            adam_groups.append({**extra, "params": rest, "lr": lr * g.get("lr_scale", 1.0)})
        if matrices:
            scale = g.get("lr_scale", 1.0) * muon_lr / lr
            muon_groups.append({**extra, "params": matrices, "lr_scale": scale, "lr": lr * scale})
    adam = torch.optim.Adam(adam_groups or [{"params": []}], lr=lr, betas=betas, fused=fused)
    muon = Muon(muon_groups, lr=muon_lr) if muon_groups else None
    return Optimizers(adam, muon)
