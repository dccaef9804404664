"""Rate-aware quantization while fitting: learned steps, soft rounding, and a differentiable rate.

Every stored tensor that the fitting trains gets a ``TensorQuantizer``: a learned step per group
of output channels (the layout the file uses, ``scale_layout``), and a rate in bits under a
zero-centred Laplace over its integers, the kind of model the entropy coder then uses
(``entropy.laplace_table``), so the rate the loss sees and the bytes the file spends agree.

Quantization modes, in the order a fit goes through them:

    float   no quantization (the network first learns the content)
    soft    soft rounding (temperature annealed towards hard) plus uniform noise: a smooth proxy
            of rounding whose gradient reaches both the weights and the steps (C3, Cool-chic)
    hard    rounding with a straight-through gradient, steps rounded to float16 as stored: the
            forward pass computes exactly what the decoder will

``export()`` gives the integers and float16 steps of the last hard pass: what goes into the file.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .entropy import QuantizedArray, scale_layout

#: the largest integer a quantized value may take (16-bit codes); the rate keeps them far smaller
QMAX = 2 ** 15 - 1
_LN2 = math.log(2.0)


def soft_round(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Agustsson & Theis' soft rounding: the identity at alpha -> 0, rounding at alpha -> inf."""
    if alpha < 1e-3:
        return x
    m = torch.floor(x) + 0.5
    r = x - m
    return m + torch.tanh(alpha * r) / (2 * math.tanh(alpha / 2))


def laplace_decay(mean_abs: torch.Tensor) -> torch.Tensor:
    """The decay r of the discrete Laplace P(k) = (1 - r) / (1 + r) * r^|k| whose mean |k| is
    ``mean_abs`` (its maximum-likelihood fit): mean |k| = 2r / (1 - r^2)."""
    m = mean_abs.clamp_min(1e-6)
    return ((1 + m * m).sqrt() - 1) / m


def laplace_bits(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Bits of each value ``q`` under the discrete Laplace of decay ``r``, the family the entropy
    coder uses (entropy.laplace_table); smooth in q, so noisy and soft-rounded values have one."""
    r = r.clamp(1e-6, 1 - 1e-6)
    return (-torch.log((1 - r) / (1 + r)) - q.abs() * torch.log(r)) / _LN2


class TensorQuantizer(nn.Module):
    """Learned quantization of one tensor: w_hat = step_g * Q(w / step_g), a step per group."""

    def __init__(self, tensor: torch.Tensor, init_bits: int = 8):
        super().__init__()
        self.shape = tuple(tensor.shape)
        self.groups, self.rows_per_group = scale_layout(self.shape)
        rows = self._rows(tensor.detach().float())
        self.rows = len(rows)
        peak = rows.abs().amax(dim=1) if rows.numel() else torch.zeros(len(rows))
        padded = nn.functional.pad(peak, (0, self.groups * self.rows_per_group - len(peak)))
        group_peak = padded.view(self.groups, self.rows_per_group).amax(dim=1)
        step = (group_peak / (2 ** (init_bits - 1) - 1)).clamp_min(1e-6)
        self.log_step = nn.Parameter(step.log())

    def _rows(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(self.shape[0] if len(self.shape) >= 2 else 1, -1)

    def step(self, stored: bool = False) -> torch.Tensor:
        """The step of each row (rows, 1); ``stored``: rounded to float16 as the file keeps it,
        with a straight-through gradient."""
        s = self.log_step.exp()
        if stored:
            s16 = s.to(torch.float16).float().clamp_min(2.0 ** -24)
            s = s + (s16 - s).detach()
        return s.repeat_interleave(self.rows_per_group)[:self.rows, None]

    def forward(self, w: torch.Tensor, mode: str, alpha: float = 0.0,
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(w_hat, q): the weights the network uses and the (soft) integers the rate is taken on.
        ``generator``: where the soft mode's noise comes from (a resumed fit draws the same)."""
        rows = self._rows(w)
        step = self.step(stored=(mode == "hard"))
        q = rows / step
        if mode == "soft":
            noise = torch.rand(q.shape, generator=generator, dtype=q.dtype).to(q.device) - 0.5
            q = soft_round(q, alpha) + noise
        elif mode == "hard":
            q = q + (torch.round(q).clamp(-QMAX, QMAX) - q).detach()
        return (q * step).reshape(self.shape), q

    @staticmethod
    def rate(q: torch.Tensor) -> torch.Tensor:
        """Bits of ``q`` under the discrete Laplace fitted to it by maximum likelihood (what the
        coder will also fit); no gradient flows through the fit."""
        return laplace_bits(q, laplace_decay(q.detach().abs().mean())).sum()

    @torch.no_grad()
    def export(self, w: torch.Tensor) -> QuantizedArray:
        steps16 = self.log_step.exp().to(torch.float16).clamp_min(2.0 ** -24)
        step = steps16.float().repeat_interleave(self.rows_per_group)[:self.rows, None]
        q = torch.round(self._rows(w.detach().float().cpu()) / step.cpu()).clamp(-QMAX, QMAX).to(torch.int32)
        peak = int(q.abs().max()) if q.numel() else 0
        bits = max(2, peak.bit_length() + 1)
        return QuantizedArray(q.reshape(self.shape).numpy(), steps16.cpu().numpy(), bits)


class RateModel(nn.Module):
    """The quantizers of every stored tensor a model trains; the others (HNeRV's embeddings,
    made by its encoder after fitting) are quantized after fitting, as before."""

    def __init__(self, model: nn.Module, names: list[str], init_bits: int = 8):
        super().__init__()
        params = dict(model.named_parameters())
        self.names = list(names)
        self.quantizers = nn.ModuleList(TensorQuantizer(params[n], init_bits) for n in self.names)

    def quantized_parameters(self, model: nn.Module, mode: str, alpha: float = 0.0,
                             generator: Optional[torch.Generator] = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The fake-quantized parameters to run ``model`` with, and their rate in bits."""
        params = dict(model.named_parameters())
        out, bits = {}, torch.zeros((), device=next(model.parameters()).device)
        for name, quantizer in zip(self.names, self.quantizers):
            w_hat, q = quantizer(params[name], mode, alpha, generator)
            out[name] = w_hat
            bits = bits + quantizer.rate(q)
        return out, bits

    @torch.no_grad()
    def export(self, model: nn.Module) -> dict[str, QuantizedArray]:
        params = dict(model.named_parameters())
        return {n: q.export(params[n]) for n, q in zip(self.names, self.quantizers)}

    @torch.no_grad()
    def bits(self, model: nn.Module) -> float:
        """The rate the loss sees of the hard-rounded tensors, in bits."""
        return float(self.quantized_parameters(model, "hard")[1])


def quality_to_lambda(quality: int) -> float:
    """The rate weight of ``--quality N``: loss = MSE + lambda * bits per pixel. Like x264's CRF,
    lower N is higher quality and more bits: three steps of N halve lambda."""
    return LAMBDA_AT_REFERENCE * 2.0 ** ((quality - REFERENCE_QUALITY) / 3)


REFERENCE_QUALITY = 24
LAMBDA_AT_REFERENCE = 1e-2


def check_quality(quality: Optional[int]) -> None:
    if quality is not None and not 0 <= quality <= 51:
        raise ValueError(f"quality {quality}: choose 0 (best) to 51")


def trained_stored_names(model: nn.Module) -> list[str]:
    """The stored tensors that fitting trains directly (parameters), in the file's order."""
    params = dict(model.named_parameters())
    return [name for name in model.stored_tensors() if name in params]
