"""Spreading an encode over processes started by ``torchrun`` (torch.distributed: gloo on CPUs,
NCCL between GPUs). A model whose training plan has several parts (NIRVANA: runs of groups, each
starting with a key group) gives each process a contiguous run of parts; rank 0 gathers what
the others learned and writes the one file. The other models are fitted data-parallel: every
process renders its own frames of each step, the gradients are summed over the processes, and
all step the same weights in lockstep (the clock and rate control's lambda are rank 0's)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def current() -> Processes:
    """This process's place among those torchrun started (one process without torchrun)."""
    try:
        return Processes(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))
    except ValueError:
        return Processes()


def start(device: str) -> Processes:
    """Join the process group torchrun set up (gloo on a CPU, NCCL on CUDA) and return our place."""
    procs = current()
    if procs.size > 1 and not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if cuda else "gloo")
    return procs


def device_for(device: str, procs: Processes) -> str:
    """Several processes on CUDA: each its own GPU (torchrun's LOCAL_RANK)."""
    if procs.size > 1 and device == "cuda":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return device


def share(parts: list[int], procs: Processes) -> list[int]:
    """A contiguous run of ``parts`` for this process (the runs differ in length by at most one)."""
    n = len(parts)
    return parts[procs.rank * n // procs.size:(procs.rank + 1) * n // procs.size]


def gather(obj: Any, procs: Processes) -> Optional[list[Any]]:
    """Every process's ``obj`` at rank 0 (None elsewhere); the processes are our own."""
    if procs.size == 1:
        return [obj]
    out = [None] * procs.size if procs.main else None
    dist.gather_object(obj, out, dst=0)
    return out


def _device() -> torch.device:
    """Where the collectives' own tensors live: NCCL takes CUDA tensors only."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def from_main(values: list[float], procs: Processes) -> list[float]:
    """Rank 0's ``values`` on every process (what the processes must agree on to step together)."""
    if procs.size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.broadcast(t, 0)
    return t.tolist()


def total(values: list[float], procs: Processes) -> list[float]:
    """``values`` summed over the processes."""
    if procs.size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.all_reduce(t)
    return t.tolist()


def same_start(params: list[torch.Tensor], procs: Processes) -> None:
    """Every process starts from rank 0's values of ``params``."""
    if procs.size > 1:
        for p in params:
            t = p.data.contiguous()
            dist.broadcast(t, 0)
            p.data.copy_(t)


def sum_gradients(params: Iterable[torch.Tensor], procs: Processes) -> None:
    """Each gradient summed over the processes, in one message. A missing gradient counts as
    zeros, and stays missing where it was missing everywhere (the optimizer then skips that
    parameter, as one process would: a stage that does not run yet, say). Whether it was missing
    everywhere travels in the message (a count of the processes that had it), so a gradient of
    zeros is not mistaken for a missing one and every process steps the same parameters."""
    if procs.size == 1:
        return
    params = list(params)  # (one process: not even listed, on every step's path)
    if not params:
        return
    present = torch.tensor([float(p.grad is not None) for p in params], dtype=params[0].dtype,
                           device=params[0].device)
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([*(p.grad.reshape(-1) for p in params), present])  # logical order, whatever each one's layout
    dist.all_reduce(flat)
    *grads, had = flat.split([*(p.numel() for p in params), len(params)])
    for p, g, anywhere in zip(params, grads, had.tolist()):
        if anywhere == 0:
            p.grad = None
        else:
            p.grad.copy_(g.view(p.shape))


def finish(procs: Processes) -> None:
    if procs.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
