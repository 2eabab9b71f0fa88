"""Scoring with a bidirectional (``--direction both``, ELMo-style) model: forward, backward and mean.

Both halves give a full log-probability of the same text, by the chain rule in opposite orders::

    forward : log p(w1 | <eos>) + log p(w2 | <eos> w1) + ... + log p(<eos> | <eos> w1 .. wn)
    backward: log p(wn | <eos>) + log p(wn-1 | <eos> wn) + ... + log p(<eos> | <eos> wn .. w1)

so each counts ``n + 1`` tokens, like the forward scorer in :mod:`charlm.eval.score` (KenLM's convention).
Their mean is reported as the model's score. A bidirectional model cannot generate left to right
(its backward half needs the future), so sampling refuses it with one line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from charlm.errors import CharlmError
from charlm.models.base import BidirectionalLM
from charlm.models.scoring import windowed_logprobs
from charlm.tokenizers import Tokenizer

LN2 = math.log(2.0)


@dataclass(frozen=True)
class BidirectionalScore:
    """Natural-log probabilities of one text read forward, backward, and their mean."""

    text: str
    tokens: int
    chars: int
    forward: float
    backward: float

    @property
    def mean(self) -> float:
        return 0.5 * (self.forward + self.backward)

    def bpc(self, logprob: float) -> float:
        return -logprob / (max(self.chars, 1) * LN2)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            mean=self.mean,
            bpc_forward=self.bpc(self.forward),
            bpc_backward=self.bpc(self.backward),
            bpc_mean=self.bpc(self.mean),
        )
        return out


def is_bidirectional(model: torch.nn.Module) -> bool:
    return isinstance(model, BidirectionalLM)


def refuse_sampling(model: torch.nn.Module) -> None:
    """One clear line for ``charlm sample`` on a bidirectional model."""
    if is_bidirectional(model):
        raise CharlmError(
            "this model was trained with --direction both and cannot sample left to right "
            "(its backward half reads the future); use it with `charlm score`, or train a forward model"
        )


@torch.no_grad()
def _logprob(model: BidirectionalLM, ids: Tensor, backward: bool, window: int = 512) -> float:
    """Summed log-probability of ``ids[1:]`` given the preceding ids, state carried, ``window`` at a time."""
    read = model.backward_lm if backward else model.forward_lm
    logp, _ = windowed_logprobs(read, ids[:-1].unsqueeze(0), ids[1:].unsqueeze(0), window)  # (1,n)
    return float(logp.sum())


def score_both(model: torch.nn.Module, tokenizer: Tokenizer, text: str, whole_file: bool = False) -> BidirectionalScore:
    """Score one sentence (its ``<eos>`` end added) or a whole file's text (as it stands) both ways."""
    if not isinstance(model, BidirectionalLM):
        raise CharlmError("this model has no backward half; train it with --direction both")
    model.eval()
    ids = torch.tensor([tokenizer.eos_id, *tokenizer.encode(text)], dtype=torch.long)  # (n+1,) <eos> w1..wn
    if not whole_file:
        ids = torch.cat([ids, torch.tensor([tokenizer.eos_id])])  # a sentence ends with <eos>
    forward = _logprob(model, ids, backward=False)
    backward = _logprob(model, ids.flip(0), backward=True)
    return BidirectionalScore(
        text=text,
        tokens=ids.numel() - 1,
        chars=len(text) + (0 if whole_file else 1),
        forward=forward,
        backward=backward,
    )


def score_both_sentences(
    model: torch.nn.Module, tokenizer: Tokenizer, texts: Sequence[str]
) -> list[BidirectionalScore]:
    """Score sentences both ways, each from a fresh state, ranked best (highest mean) first."""
    return sorted((score_both(model, tokenizer, t) for t in texts), key=lambda s: -s.mean)
