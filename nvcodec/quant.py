"""Uniform, symmetric quantization of a model's tensors to N-bit integers.

Weights (2+ dims) get a step per output channel, vectors (biases) one step per tensor; steps
are float16, and the integers are round(w / step) clipped to +-(2^(N-1) - 1). The decoder
multiplies back; the encoder renders its own reference frames from the same dequantized
tensors, so both sides see identical weights.
"""
from __future__ import annotations

import numpy as np
import torch

from .entropy import QuantizedArray, scale_count


def quantize_tensor(tensor: torch.Tensor, bits: int) -> QuantizedArray:
    t = tensor.detach().float().cpu()
    qmax = 2 ** (bits - 1) - 1
    flat = t.reshape(scale_count(t.shape), -1)
    peak = flat.abs().amax(dim=1) if flat.numel() else torch.zeros(flat.shape[0])
    scales = (peak / qmax).to(torch.float16)
    # float16 rounding or underflow must not leave a step of zero for a channel that has values
    scales = torch.where((scales == 0) & (peak > 0), torch.tensor(2.0 ** -24, dtype=torch.float16), scales)
    step = scales.float().clamp_min(1e-30)[:, None]
    values = torch.round(flat / step).clamp(-qmax, qmax).to(torch.int32)
    return QuantizedArray(values.reshape(t.shape).numpy(), scales.numpy(), bits)


def dequantize_tensor(q: QuantizedArray) -> torch.Tensor:
    values = torch.from_numpy(np.ascontiguousarray(q.values, dtype=np.int32)).float()
    scales = torch.from_numpy(q.scales.astype(np.float32))
    flat = values.reshape(scales.numel(), -1) * scales[:, None]
    return flat.reshape(values.shape)


def quantize_tensors(tensors: dict[str, torch.Tensor], bits: int) -> dict[str, QuantizedArray]:
    return {name: quantize_tensor(t, bits) for name, t in tensors.items()}


def dequantize_tensors(quantized: dict[str, QuantizedArray]) -> dict[str, torch.Tensor]:
    return {name: dequantize_tensor(q) for name, q in quantized.items()}
