"""Gradient statistics of a language model on text: the root mean square of each weight's gradient.

Dynamic evaluation (:mod:`charlm.eval.dynamic`, Krause et al. 2018) divides its updates by these RMS
values and decays each weight back to its trained value at a rate proportional to them. They are
gathered as in the paper: the mean cross-entropy of ``batch`` parallel rows of ``segment`` tokens,
state carried, one backward pass per window, over at most ``max_batches`` windows::

    ids (N,) -> (batch, N // batch) rows -> windows of `segment` tokens -> grad^2 summed -> sqrt(sum / windows)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.models.base import LanguageModel
from charlm.models.state import detach_state

BATCH = 100
SEGMENT = 5
MAX_BATCHES = 100


def named_weights(model: LanguageModel) -> dict[str, torch.nn.Parameter]:
    """Trainable parameters by name, each shared (tied) tensor once."""
    seen: set[int] = set()
    out = {}
    for name, p in model.named_parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            out[name] = p
    return out


def gradient_rms(
    model: LanguageModel, ids: Tensor, batch: int = BATCH, segment: int = SEGMENT, max_batches: int = MAX_BATCHES
) -> dict[str, Tensor]:
    """RMS of each weight's gradient over windows of ``ids (N,)``; the model is left unchanged (eval mode)."""
    batch = max(1, min(batch, (len(ids) - 1) // (segment + 1)))
    rows = ids[: len(ids) // batch * batch].reshape(batch, -1).to(model.device)  # (B,L)
    weights = named_weights(model)
    sums = {name: torch.zeros_like(p) for name, p in weights.items()}
    was_training, state, windows = model.training, None, 0
    model.eval()
    for start in range(0, rows.size(1) - 1, segment):
        x, y = rows[:, start : start + segment], rows[:, start + 1 : start + segment + 1]  # (B,T)
        x = x[:, : y.size(1)]
        model.zero_grad(set_to_none=True)
        logits, state = model(x, state)  # (B,T,V)
        F.cross_entropy(logits.float().flatten(0, 1), y.flatten()).backward()
        state = detach_state(state)
        for name, p in weights.items():
            if p.grad is not None:
                sums[name] += p.grad.detach() ** 2
        windows += 1
        if windows >= max_batches:
            break
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return {name: (s / max(windows, 1)).sqrt().cpu() for name, s in sums.items()}
