"""Rate-aware quantization while fitting: learned steps, soft rounding, and a differentiable rate.

Every stored tensor that the fitting trains gets (in ``RateModel``) a learned step per group
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

from ..bitstream.entropy import QuantizedArray, scale_layout

#: the largest integer a quantized value may take (16-bit codes); the rate keeps them far smaller
QMAX = 2 ** 15 - 1
NOISE_SEED = 20231  # the noise pool is the same on every run; the seed of a fit picks its windows
_LN2 = math.log(2.0)
LOG_STEP_MIN, LOG_STEP_MAX = math.log(2.0 ** -24), math.log(60000.0)  # float16's smallest step, below its largest


def soft_round(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Agustsson & Theis' soft rounding: the identity at alpha -> 0, rounding at alpha -> inf."""
    return soft_round_with_slope(x, alpha)[0]


def soft_round_with_slope(x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """soft_round(x, alpha) and its derivative in x (None at alpha -> 0, where it is 1), which the
    fused quantizer's backward needs. In place where it can: a step's few passes over the values."""
    if alpha < 1e-3:
        return x, None
    scale = 2 * math.tanh(alpha / 2)
    m = torch.floor(x).add_(0.5)
    th = torch.sub(x, m).mul_(alpha).tanh_()
    slope = torch.mul(th, th).neg_().add_(1).mul_(alpha / scale)
    return m.add_(th, alpha=1 / scale), slope


def laplace_decay(mean_abs: torch.Tensor) -> torch.Tensor:
    """The decay r of the discrete Laplace P(k) = (1 - r) / (1 + r) * r^|k| whose mean |k| is
    ``mean_abs`` (its maximum-likelihood fit): mean |k| = 2r / (1 - r^2)."""
    m = mean_abs.clamp_min(1e-6)
    return ((1 + m * m).sqrt() - 1) / m


def laplace_bits(count: torch.Tensor, abs_sum: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Bits of ``count`` values whose magnitudes sum to ``abs_sum`` under the discrete Laplace of
    decay ``r``, the family the entropy coder uses (entropy.laplace_table); smooth in the values,
    so noisy and soft-rounded ones have a rate too."""
    r = r.clamp(1e-6, 1 - 1e-6)
    return (-count * torch.log((1 - r) / (1 + r)) - abs_sum * torch.log(r)) / _LN2


def _run_sums(x: torch.Tensor, runs: list[tuple[int, int, int]]) -> torch.Tensor:
    """Sums of consecutive runs of ``x``: ``runs`` lists (start, count, length), ``count`` runs of
    ``length`` values from ``start``, each block summed as one (count, length) view. A few dozen
    small reductions: faster on a CPU than a float64 cumulative sum (a sequential scan) over all
    values or a scatter, and exact to float32's pairwise sums."""
    return torch.cat([x[a:a + c * n].view(c, n).sum(1) for a, c, n in runs])


class _Spread(torch.autograd.Function):
    """values[index] for a sorted ``index`` whose runs are ``runs`` (see _run_sums); its gradient
    is the runs' sums."""

    @staticmethod
    def forward(ctx, values, index, runs):
        ctx.runs = runs
        return values.index_select(0, index)

    @staticmethod
    def backward(ctx, grad):
        return _run_sums(grad, ctx.runs), None, None


class _FakeQuantize(torch.autograd.Function):
    """w -> (w_hat, bits) in one node: w_hat = step * q with q = Q(w / step), Q soft rounding plus
    noise (soft, ``alpha`` its sharpness) or rounding with a straight-through gradient (hard), and
    bits the rate of q, each tensor (its run in ``tensor_runs``) under the Laplace fitted to
    its |q| (no gradient through that fit; ``plain`` 0 leaves a tensor's rate out, for the
    caller to count: a predicted tensor's). Its gradients are written out: one autograd node
    instead of a dozen keeps the per-step overhead of rate-aware fitting small on a CPU.

    With L the loss and g = dQ/dx (1 when hard): dL/dq = dL/dw_hat * step + dbits/dq, where
    dbits/dq = -log2(r) * sign(q) for the tensor's decay r; dL/dw = dL/dq * g / step and
    dL/dstep = dL/dw_hat * q - dL/dq * g * w / step^2."""

    @staticmethod
    def forward(ctx, w, step, noise, alpha, hard, tensor_runs, tensor_of, counts, plain):
        x = w / step
        if hard:
            q, slope = torch.round(x).clamp_(-QMAX, QMAX), None
        else:
            q, slope = soft_round_with_slope(x, alpha)
            q = q.add_(noise) if q is not x else q + noise
        abs_sum = _run_sums(q.abs(), tensor_runs)
        r = laplace_decay(abs_sum / counts)
        bits = (laplace_bits(counts, abs_sum, r) * plain).sum()
        ctx.save_for_backward(x, q, slope if slope is not None else x.new_empty(0), step, r, tensor_of, plain)
        return q * step, bits

    @staticmethod
    def backward(ctx, grad_w_hat, grad_bits):
        x, q, slope, step, r, tensor_of, plain = ctx.saved_tensors
        per_tensor = torch.log(r.clamp(1e-6, 1 - 1e-6)).neg_().div_(_LN2).mul_(plain).mul_(grad_bits)
        grad_q = torch.sign(q).mul_(per_tensor.index_select(0, tensor_of)).addcmul_(grad_w_hat, step)
        grad_x = grad_q.mul_(slope) if slope.numel() else grad_q
        grad_step = (grad_w_hat * q).addcmul_(grad_x, x / step, value=-1.0)
        return grad_x / step, grad_step, None, None, None, None, None, None, None


def _rows(t: torch.Tensor) -> torch.Tensor:
    """A tensor as the file's rows: output channels along axis 0 (a vector is one row)."""
    return t.reshape(t.shape[0] if t.dim() >= 2 else 1, -1)


class RateModel(nn.Module):
    """Learned quantization of the stored tensors a model trains: w_hat = step * Q(w / step), a
    step per group of output channels (``scale_layout``, as the file keeps them), and the rate of
    the integers under a Laplace per tensor fitted to them.

    All tensors are handled as one flat vector, so a step costs a handful of operations whatever
    the number of tensors. A tensor the model codes predicted (``predicted_tensors()``: each value
    along axis 1 as its difference from the one before) has the rate of those differences, under
    a Laplace fitted to them, so that fitting pays for what the file spends. Stored tensors that are not parameters (none today: HNeRV's embeddings
    became parameters at its quantized phase, INR.before_quantization) would be quantized after
    fitting to the fit's bits."""

    def __init__(self, model: nn.Module, names: list[str], init_bits: int = 8,
                 init_steps: Optional[torch.Tensor] = None):
        """Steps start at each group's peak / (2^(init_bits-1) - 1), or at ``init_steps`` (another
        RateModel's ``steps()`` over tensors of the same shapes: a residual starts from the steps
        the previous group learned)."""
        super().__init__()
        params = dict(model.named_parameters())
        self.names = list(names)
        self.shapes = [tuple(params[n].shape) for n in self.names]
        self.sizes = [params[n].numel() for n in self.names]
        steps, group_of, offset = [], [], 0
        for i, name in enumerate(self.names):
            rows = _rows(params[name].detach().float().cpu())
            groups, per_group = scale_layout(self.shapes[i])
            row_group = torch.arange(len(rows)) // per_group
            peak = rows.abs().amax(dim=1) if rows.numel() else torch.zeros(len(rows))
            group_peak = torch.zeros(groups).scatter_reduce(0, row_group, peak, "amax")
            steps.append((group_peak / (2 ** (init_bits - 1) - 1)).clamp_min(1e-6))
            group_of.append((row_group + offset).repeat_interleave(rows.shape[1]))
            offset += groups
        steps = torch.cat(steps)
        if init_steps is not None:
            if init_steps.shape != steps.shape:
                raise ValueError(f"{len(init_steps)} initial steps for {len(steps)} groups")
            steps = init_steps.detach().float().cpu()
        self.log_step = nn.Parameter(steps.log())
        # each value's group in the flat vector, and the runs of values of each group and of each
        # tensor (derived from the shapes, so not in checkpoints)
        group_of = torch.cat(group_of)
        self.register_buffer("group_of", group_of, persistent=False)
        self.group_runs, self.tensor_runs, start = [], [], 0
        for shape, size in zip(self.shapes, self.sizes):
            groups, per_group = scale_layout(shape)
            rows = shape[0] if len(shape) >= 2 else 1
            run = per_group * (size // rows if rows else 0)
            full = min(groups, rows // per_group) if per_group else 0
            if size == 0:
                self.group_runs.append((start, groups, 0))
            if full and size:
                self.group_runs.append((start, full, run))
            if size - full * run:  # a last group of fewer rows
                self.group_runs.append((start + full * run, 1, size - full * run))
            self.tensor_runs.append((start, 1, size))
            start += size
        self.register_buffer("counts", torch.tensor(self.sizes, dtype=torch.float32), persistent=False)
        sizes = torch.tensor(self.sizes)
        self.register_buffer("tensor_of", torch.repeat_interleave(torch.arange(len(sizes)), sizes), persistent=False)
        predicted = model.predicted_tensors() if hasattr(model, "predicted_tensors") else frozenset()
        #: the tensors coded predicted, whose rate quantize() counts itself
        self.predicted = [i for i, n in enumerate(self.names) if n in predicted]
        plain = torch.tensor([0.0 if n in predicted else 1.0 for n in self.names])
        self.register_buffer("plain", plain, persistent=False)
        # the soft phase's uniform noise: a window of this pool at a random offset each step, as
        # random for the fitting as a fresh draw, without drawing a number per value each step
        pool = torch.rand(2 * len(group_of) + 1, generator=torch.Generator().manual_seed(NOISE_SEED)) - 0.5
        self.register_buffer("noise_pool", pool, persistent=False)

    def noise(self, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Uniform noise in [-0.5, 0.5) for every value; ``generator`` picks the window."""
        size = len(self.group_of)
        start = int(torch.randint(0, size + 1, (1,), generator=generator))
        return self.noise_pool[start:start + size]

    def steps(self, stored: bool = False) -> torch.Tensor:
        """The step of every group; ``stored``: rounded to float16 as the file keeps them, with a
        straight-through gradient."""
        # within what a float16 step can hold: a huge lambda drives steps up until every value
        # rounds to 0, and an infinite step would make step x 0 a NaN
        s = self.log_step.clamp(LOG_STEP_MIN, LOG_STEP_MAX).exp()
        if stored:
            s16 = s.to(torch.float16).float().clamp_min(2.0 ** -24)
            s = s + (s16 - s).detach()
        return s

    def quantize(self, w: torch.Tensor, mode: str, alpha: float = 0.0,
                 generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(w_hat, bits) of the flat vector ``w``: the values the network uses and the rate of
        their (soft) integers. ``generator``: where the soft mode's noise comes from."""
        step = _Spread.apply(self.steps(stored=(mode == "hard")), self.group_of, self.group_runs)
        noise = self.noise(generator) if mode == "soft" else None
        w_hat, bits = _FakeQuantize.apply(w, step, noise, alpha if mode == "soft" else 0.0, mode == "hard",
                                          self.tensor_runs, self.tensor_of, self.counts, self.plain)
        for i in self.predicted:
            bits = bits + self._predicted_bits(w_hat, step, i)
        return w_hat, bits

    def _predicted_bits(self, w_hat: torch.Tensor, step: torch.Tensor, i: int) -> torch.Tensor:
        """The rate of tensor ``i``'s (soft) integers coded predicted along axis 1: the first of
        each row as it is, the others as differences, under one Laplace fitted to them all."""
        (start, _, size), shape = self.tensor_runs[i], self.shapes[i]
        q = (w_hat[start:start + size] / step[start:start + size]).view(shape[0], shape[1], -1)
        residual = torch.cat([q[:, :1], q[:, 1:] - q[:, :-1]], 1)
        abs_sum = residual.abs().sum()
        count = self.counts[i]
        return laplace_bits(count, abs_sum, laplace_decay(abs_sum.detach() / count))

    def quantized_parameters(self, model: nn.Module, mode: str, alpha: float = 0.0,
                             generator: Optional[torch.Generator] = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The fake-quantized parameters to run ``model`` with, and their rate in bits."""
        params = dict(model.named_parameters())
        w = torch.cat([params[n].reshape(-1) for n in self.names])
        w_hat, bits = self.quantize(w, mode, alpha, generator)
        out = {}
        for name, shape, part in zip(self.names, self.shapes, w_hat.split(self.sizes)):
            part = part.view(shape)
            if part.dim() == 4 and params[name].is_contiguous(memory_format=torch.channels_last):
                part = part.contiguous(memory_format=torch.channels_last)  # as the model's own: fast convolutions
            out[name] = part
        return out, bits

    @torch.no_grad()
    def export(self, model: nn.Module, only: Optional[list[str]] = None) -> dict[str, QuantizedArray]:
        """The integers and float16 steps of a hard pass: what goes into the file (``only``: of
        those tensors)."""
        params = dict(model.named_parameters())
        steps16 = self.steps().detach().to(torch.float16).clamp_min(2.0 ** -24).cpu()
        out, first = {}, 0
        for name, shape in zip(self.names, self.shapes):
            groups, per_group = scale_layout(shape)
            if only is None or name in only:
                rows = _rows(params[name].detach().float().cpu())
                step = steps16[first:first + groups].float().repeat_interleave(per_group)[:len(rows), None]
                q = torch.round(rows / step).clamp(-QMAX, QMAX).to(torch.int32)
                peak = int(q.abs().max()) if q.numel() else 0
                out[name] = QuantizedArray(q.reshape(shape).numpy(), steps16[first:first + groups].numpy(),
                                           max(2, peak.bit_length() + 1))
            first += groups
        return out

    @torch.no_grad()
    def bake(self, model: nn.Module) -> None:
        """Set the parameters to their hard-quantized values (step * integer, as the decoder
        computes them): what later stages of a plan build on. export() gives the same integers."""
        params = dict(model.named_parameters())
        for name, value in self.quantized_parameters(model, "hard")[0].items():
            params[name].copy_(value)

    @torch.no_grad()
    def bits(self, model: nn.Module) -> float:
        """The rate the loss sees of the hard-rounded tensors, in bits."""
        return float(self.quantized_parameters(model, "hard")[1])


class RateSet(nn.ModuleList):
    """The RateModels of a plan's stages, one per stage that quantized, used as one."""

    @property
    def names(self) -> list[str]:
        return [n for rate in self for n in rate.names]

    def export(self, model: nn.Module, only: Optional[list[str]] = None) -> dict[str, QuantizedArray]:
        return {k: v for rate in self for k, v in rate.export(model, only).items()}

    def bits(self, model: nn.Module) -> float:
        return sum(rate.bits(model) for rate in self)


def quality_to_lambda(quality: float) -> float:
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
