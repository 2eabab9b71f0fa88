"""The one scoring kernel: log-probabilities of target ids, padded sentence batches, windows with state carried.

Every reader that prices text with a network goes through these three functions: training's
validation (streamed and per line), ``eval``, ``score``, both-ways scores, dynamic evaluation, the
neural cache (:mod:`charlm.eval.cache` wraps :func:`token_logprobs`) and the n-gram's weight tuning.
So a log-probability means one computation everywhere::

    sentence ids:  t1 t2 ... tn <eos>
    inputs:        <eos> t1 ... tn       targets: t1 t2 ... tn <eos>     (padding only after the end)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.runtime import autocast


def target_logprobs(logits: Tensor, targets: Tensor) -> Tensor:
    """ln p(target) at every position of ``logits (B,T,V)``, in float32: (B,T) on the logits' device."""
    return F.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B,T)


def token_logprobs(
    model: Any, inputs: Tensor, targets: Tensor, precision: str = "fp32", state: Any = None
) -> tuple[Tensor, Any]:
    """log p(target | history) for every position of ``inputs (B,T)``: (B,T) float32 on the CPU, and the state."""
    device = model.device
    with autocast(device, precision):
        logits, state = model(inputs.to(device), state)  # (B,T,V)
    return target_logprobs(logits, targets.to(device)).cpu(), state  # (B,T)


def windowed_logprobs(
    model: Any, inputs: Tensor, targets: Tensor, window: int, precision: str = "fp32", state: Any = None
) -> tuple[Tensor, Any]:
    """:func:`token_logprobs` of a long ``(B,T)`` batch, ``window`` positions at a time, state carried."""
    pieces = []
    for start in range(0, inputs.size(1), window):
        part = slice(start, start + window)
        logp, state = token_logprobs(model, inputs[:, part], targets[:, part], precision, state)  # (B,w)
        pieces.append(logp)
    return (torch.cat(pieces, dim=1) if pieces else torch.zeros(inputs.shape)), state


def padded_lines(lines: Sequence[Sequence[int] | np.ndarray], eos: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sentences (each ending with its ``<eos>``) as one right-padded batch: inputs, targets and mask, (B,T) each.

    Inputs start with ``<eos>`` (the sentence is read from the start of a line); padding repeats
    ``<eos>`` after a sentence's end and is masked out, so it never reaches a score.
    """
    longest = max(len(line) for line in lines)
    targets = torch.full((len(lines), longest), eos, dtype=torch.long)  # (B,T)
    mask = torch.zeros(len(lines), longest, dtype=torch.bool)  # (B,T)
    for row, line in enumerate(lines):
        targets[row, : len(line)] = torch.as_tensor(np.asarray(line, dtype=np.int64))
        mask[row, : len(line)] = True
    inputs = torch.cat([torch.full((len(lines), 1), eos, dtype=torch.long), targets[:, :-1]], dim=1)  # (B,T)
    return inputs, targets, mask
