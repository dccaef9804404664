"""Uniform, symmetric quantization of a model's tensors to N-bit integers.

Weights (2+ dims) get a step per group of output channels holding at least 128 values (one
channel, for most conv layers), vectors (biases) one step per tensor; steps are float16, and the integers are round(w / step) clipped to +-(2^(N-1) - 1). The decoder
multiplies back; the encoder renders its own reference frames from the same dequantized
tensors, so both sides see identical weights.
"""
from __future__ import annotations

import numpy as np
import torch

from .entropy import QuantizedArray, scale_layout


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0] if t.dim() >= 2 else 1, -1)


def _expand(per_group: torch.Tensor, group: int, rows: int) -> torch.Tensor:
    return per_group.repeat_interleave(group)[:rows, None]


def quantize_tensor(tensor: torch.Tensor, bits: int) -> QuantizedArray:
    t = tensor.detach().float().cpu()
    qmax = 2 ** (bits - 1) - 1
    count, group = scale_layout(t.shape)
    rows = _rows(t)
    row_peak = rows.abs().amax(dim=1) if rows.numel() else torch.zeros(len(rows))
    peak = torch.nn.functional.pad(row_peak, (0, count * group - len(row_peak))).view(count, group).amax(dim=1)
    scales = (peak / qmax).to(torch.float16)
    # float16 rounding or underflow must not leave a step of zero for a group that has values
    scales = torch.where((scales == 0) & (peak > 0), torch.tensor(2.0 ** -24, dtype=torch.float16), scales)
    step = _expand(scales.float().clamp_min(1e-30), group, len(rows))
    values = torch.round(rows / step).clamp(-qmax, qmax).to(torch.int32)
    return QuantizedArray(values.reshape(t.shape).numpy(), scales.numpy(), bits)


def dequantize_tensor(q: QuantizedArray) -> torch.Tensor:
    values = torch.from_numpy(np.ascontiguousarray(q.values, dtype=np.int32)).float()
    _, group = scale_layout(values.shape)
    rows = _rows(values)
    return (rows * _expand(torch.from_numpy(q.scales.astype(np.float32)), group, len(rows))).reshape(values.shape)


def quantize_tensors(tensors: dict[str, torch.Tensor], bits: int) -> dict[str, QuantizedArray]:
    return {name: quantize_tensor(t, bits) for name, t in tensors.items()}


def dequantize_tensors(quantized: dict[str, QuantizedArray]) -> dict[str, torch.Tensor]:
    return {name: dequantize_tensor(q) for name, q in quantized.items()}
