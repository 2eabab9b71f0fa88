"""Data-parallel training across processes and machines: torchrun in, DistributedDataParallel out.

``torchrun --nproc_per_node N -m charlm train ...`` starts N copies of the trainer; each reads the
standard torchrun variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` ...) through
:func:`setup`, which joins the process group (NCCL on GPUs, gloo on CPUs) and returns a
:class:`Dist`. Without those variables :func:`setup` returns a single-process ``Dist`` whose every
method is the identity, so the trainer has one code path.

How the work is split (the global batch is ``--batch-size x world size``)::

    token stream --batchify--> (B*W, L) rows --rank r takes rows [r*B, (r+1)*B)--> its (B, L) slice

So N processes with ``--batch-size B`` see exactly the rows, gradients (DDP averages them) and
updates of one process with ``--batch-size B*N``. The carried hidden state is gathered to its
full ``(.., B*W, ..)`` shape before rank 0 saves it and sliced again on resume, so a checkpoint
is the same whether it came from one process or many. Only rank 0 writes or logs.
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist
from torch import Tensor, nn

from charlm.errors import CharlmError
from charlm.models.config import State
from charlm.models.state import map_state
from charlm.runtime import pick_device

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class Dist:
    """This process's place in the job: ``rank`` of ``world`` processes, on ``device``."""

    rank: int
    world: int
    device: torch.device

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train with: DDP around ``model`` when distributed (gradients all-reduced)."""
        if not self.active:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        # A learned start state is used only in steps that start a line afresh (a reset, a new epoch).
        unused = any(name.endswith("start.vector") for name, _ in model.named_parameters())
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)

    def rows(self, data: Any) -> Any:
        """This rank's slice of a ``(B*W, L)`` batchified stream (tensor or memmap): ``(B, L)``."""
        if not self.active:
            return data
        per = data.shape[0] // self.world
        return data[self.rank * per : (self.rank + 1) * per]  # (B,L)

    def mean(self, value: Tensor) -> Tensor:
        """The mean of a tensor over ranks (identity alone); for the logged loss."""
        if not self.active:
            return value
        value = value.detach().clone()
        tdist.all_reduce(value)
        return value / self.world

    def weighted_mean(self, mean: float, count: int) -> float:
        """Combine per-rank means of ``count`` items each into the global mean (validation loss)."""
        if not self.active:
            return mean
        both = torch.tensor([mean * count, float(count)], dtype=torch.float64, device=self.device)
        tdist.all_reduce(both)
        return float(both[0] / both[1].clamp_min(1.0))

    def agree(self, value: float) -> float:
        """Rank 0's float on every rank (the clock, so a time budget ends every rank at the same step)."""
        if not self.active:
            return value
        box = torch.tensor([value], dtype=torch.float64, device=self.device)
        tdist.broadcast(box, src=0)
        return float(box)

    def from_main(self, value: object) -> object:
        """Rank 0's value of any picklable object on every rank (run directory, elapsed time)."""
        if not self.active:
            return value
        box = [value]
        tdist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_state(self, state: State) -> State:
        """The full-batch hidden state (batch is dim 1 of every ``(L,B,H)`` tensor) from all ranks."""
        if not self.active or state is None:
            return state

        def gather(t: Tensor) -> Tensor:
            parts = [torch.empty_like(t) for _ in range(self.world)]
            tdist.all_gather(parts, t.contiguous())
            return torch.cat(parts, 1)

        return map_state(gather, state)

    def shard_state(self, state: State) -> State:
        """This rank's rows of a full-batch hidden state (the inverse of :meth:`gather_state`)."""
        if not self.active or state is None:
            return state
        return map_state(lambda t: t.chunk(self.world, 1)[self.rank].contiguous(), state)

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def close(self, settled: bool = False) -> None:
        """Leave the process group; ``settled`` (every rank finished): meet once more first.

        Drop the DDP wrapper before calling this: its reducer holds the group through a reference
        cycle, collected here; left to interpreter exit, the group's gloo threads outlived Python and
        the process aborted ("terminate called without an active exception") after a good run.
        """
        if self.active and tdist.is_initialized():
            gc.collect()
            if settled:
                tdist.barrier()
            tdist.destroy_process_group()


def launched() -> bool:
    """Whether torchrun (or an equivalent launcher) set this process's rank variables."""
    return all(name in os.environ for name in ENV) and int(os.environ["WORLD_SIZE"]) > 1


def setup(device: str = "auto") -> Dist:
    """Join the process group when launched by torchrun; otherwise a single-process ``Dist``."""
    if not launched():
        return Dist(0, 1, pick_device(device))
    rank, world, local = (int(os.environ[name]) for name in ENV)
    chosen = pick_device(device)
    if chosen.type == "cuda":
        if local >= torch.cuda.device_count():
            raise CharlmError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPUs are visible; lower --nproc_per_node"
            )
        chosen = torch.device("cuda", local)
        torch.cuda.set_device(chosen)
    backend = "nccl" if chosen.type == "cuda" else "gloo"
    if not tdist.is_initialized():
        tdist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
    return Dist(rank, world, chosen)
