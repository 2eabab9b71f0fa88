"""The training loss, outside the model: next-token cross-entropy, and both halves of a bidirectional model.

A :class:`~charlm.models.base.BidirectionalLM` (``--direction both``) trains on the mean of its two
losses. The backward half reads the window reversed (input ``y`` flipped, target ``x`` flipped) from a
fresh state: its context lies in the *next* window, which TBPTT has not read yet::

    forward : x = w1 .. wT    -> y = w2 .. wT+1        (state carried from the previous window)
    backward: y flipped = wT+1 .. w2 -> x flipped = wT .. w1   (fresh state)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.models.base import BidirectionalLM
from charlm.runtime import autocast


def training_loss(
    model: torch.nn.Module, logits: Tensor, x: Tensor, y: Tensor, device: torch.device, precision: str
) -> Tensor:
    """Mean cross-entropy (nats/token) of ``logits (B,T,V)`` against ``y (B,T)``; both halves for a bidirectional model."""
    loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
    if not isinstance(model, BidirectionalLM):
        return loss
    with autocast(device, precision):
        back, _ = model.backward_lm(y.flip(1))  # (B,T,V)
        backward = F.cross_entropy(back.float().flatten(0, 1), x.flip(1).flatten())
        return 0.5 * (loss + backward)
