"""Validation loss per line: every line of the validation text scored from the start state (the ``score`` convention).

The streamed validation loss carries the state across lines, so it never shows how well the model
starts a line; ``charlm score`` and ``charlm eval --independent`` start each line afresh. Training
reports both. Here the validation ids are cut at ``<eos>`` into lines (each keeps its own ``<eos>``
as its last target; a final piece without one is scored as it is), each line read from the start
state conditioned on ``<eos>``, exactly as :mod:`charlm.eval.score` does::

    line ids:  t1 t2 ... tn <eos>
    inputs:    <eos> t1 ... tn        targets: t1 t2 ... tn <eos>      (start state before <eos>)

Lines are sorted by length and padded into batches, one batch at a time as the evaluation reads it (padding only after a line's end, so a recurrent
model never carries it into a score); a batch longer than ``window`` runs in pieces, state carried.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from charlm.models.base import AnyLM
from charlm.models.scoring import padded_lines, windowed_logprobs

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # inputs (B,T), targets (B,T), mask (B,T)


class LineBatches:
    """The lines of ``ids (N,)`` as padded batches of similar length, built one at a time as they are read.

    Only the line boundaries are kept (two int64 per line); each batch is cut from ``ids`` (a memmap
    view stays on disk) when the evaluation reaches it, so the held-out part is never materialised
    as padded tensors all at once. ``share=(rank, world)`` keeps every world-th batch.
    """

    def __init__(self, ids: np.ndarray, eos_id: int, batch_size: int, share: tuple[int, int] = (0, 1)) -> None:
        self.ids, self.eos_id, self.batch_size = ids, eos_id, batch_size
        found = [np.zeros(0, dtype=np.int64)]
        for first in range(0, len(ids), SCAN):  # the <eos> positions, a bounded slice at a time
            found.append(np.flatnonzero(np.asarray(ids[first : first + SCAN]) == eos_id) + first + 1)
        stops = np.concatenate(found).astype(np.int64)
        if not stops.size or stops[-1] != len(ids):
            stops = np.append(stops, len(ids))
        self.starts = np.concatenate([[0], stops[:-1]]).astype(np.int64)
        self.stops = stops
        order = np.argsort(stops - self.starts, kind="stable")
        rank, world = share
        self.groups = [order[first : first + batch_size] for first in range(0, len(order), batch_size)][rank::world]

    def __len__(self) -> int:
        return len(self.groups)

    def __iter__(self) -> Iterator[Batch]:
        for group in self.groups:
            lines = [np.asarray(self.ids[self.starts[i] : self.stops[i]], dtype=np.int64) for i in group]
            yield padded_lines(lines, self.eos_id)


SCAN = 1 << 20  # tokens read at once when finding the line ends


def line_batches(ids: np.ndarray, eos_id: int, batch_size: int, share: tuple[int, int] = (0, 1)) -> LineBatches:
    """The lines of ``ids (N,)`` as padded batches of similar length (:class:`LineBatches`, built lazily)."""
    return LineBatches(ids, eos_id, batch_size, share)


@torch.no_grad()
def evaluate_lines(model: AnyLM, batches: Iterable[Batch], window: int, precision: str = "fp32") -> tuple[float, int]:
    """(mean nats per token, tokens) over ``batches``, every line from the model's start state."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for inputs, targets, mask in batches:
        logp, _ = windowed_logprobs(model, inputs, targets, window, precision)  # (B,T) from the start state
        total -= float(logp[mask].double().sum())
        count += int(mask.sum())
    model.train(was_training)
    return total / max(count, 1), count
