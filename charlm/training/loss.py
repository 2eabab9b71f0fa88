"""The training loss, outside the model: next-token cross-entropy, and both halves of a bidirectional model.

A :class:`~charlm.models.base.BidirectionalLM` (``--direction both``) trains on the mean of its two
losses. The backward half reads the window reversed (input ``y`` flipped, target ``x`` flipped) from a
fresh state: its context lies in the *next* window, which TBPTT has not read yet::

    forward : x = w1 .. wT    -> y = w2 .. wT+1        (state carried from the previous window)
    backward: y flipped = wT+1 .. w2 -> x flipped = wT .. w1   (fresh state)
"""

from __future__ import annotations

import torch
from torch import Tensor

from charlm.models.base import BidirectionalLM
from charlm.runtime import autocast


def training_loss(
    model: torch.nn.Module, loss: Tensor, x: Tensor, y: Tensor, device: torch.device, precision: str
) -> Tensor:
    """The step's loss from the forward pass's ``loss`` (``model(x, targets=y)``); both halves for a bidirectional model.

    The head computes it (:meth:`~charlm.models.base.LanguageModel.loss_from`): cross-entropy, or
    the adaptive softmax's cluster loss.
    """
    if not isinstance(model, BidirectionalLM):
        return loss
    with autocast(device, precision):
        backward, _ = model.backward_lm(y.flip(1), targets=x.flip(1))  # () mean nats of the reversed window
        return 0.5 * (loss + backward)
