"""Validation loss per line: every line of the validation text scored from the start state (the ``score`` convention).

The streamed validation loss carries the state across lines, so it never shows how well the model
starts a line; ``charlm score`` and ``charlm eval --independent`` start each line afresh. Training
reports both. Here the validation ids are cut at ``<eos>`` into lines (each keeps its own ``<eos>``
as its last target; a final piece without one is scored as it is), each line read from the start
state conditioned on ``<eos>``, exactly as :mod:`charlm.eval.score` does::

    line ids:  t1 t2 ... tn <eos>
    inputs:    <eos> t1 ... tn        targets: t1 t2 ... tn <eos>      (start state before <eos>)

Lines are sorted by length and padded into batches (padding only after a line's end, so a recurrent
model never carries it into a score); a batch longer than ``window`` runs in pieces, state carried.
"""

from __future__ import annotations

import numpy as np
import torch

from charlm.models.base import AnyLM
from charlm.models.scoring import padded_lines, windowed_logprobs

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # inputs (B,T), targets (B,T), mask (B,T)


def line_batches(ids: np.ndarray, eos_id: int, batch_size: int, share: tuple[int, int] = (0, 1)) -> list[Batch]:
    """The lines of ``ids (N,)`` as padded batches of similar length; ``share=(rank, world)`` keeps every world-th."""
    ids = np.asarray(ids, dtype=np.int64)
    stops = np.flatnonzero(ids == eos_id) + 1
    if not stops.size or stops[-1] != len(ids):
        stops = np.append(stops, len(ids))
    starts = np.concatenate([[0], stops[:-1]])
    order = np.argsort(stops - starts, kind="stable")
    batches = [
        padded_lines([ids[starts[line] : stops[line]] for line in order[first : first + batch_size]], eos_id)
        for first in range(0, len(order), batch_size)
    ]
    rank, world = share
    return batches[rank::world]


@torch.no_grad()
def evaluate_lines(model: AnyLM, batches: list[Batch], window: int, precision: str = "fp32") -> tuple[float, int]:
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
