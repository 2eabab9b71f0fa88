"""Beam search: the most probable continuations of a prime under the model.

At each step every kept hypothesis is extended by every token but ``<unk>`` and the ``width`` most
probable extensions are kept (all hypotheses alive at a step have the same length, so they are
compared by total log-probability). Without ``until_eos`` the result is the best ``length``-token
continuation (``<eos>`` is then just a newline). With ``until_eos`` a hypothesis that emits
``<eos>`` is finished and set aside; finished ones are ranked by total log-probability, or by
log-probability per token with ``normalize`` (which stops short sentences always winning). Search
stops early once no live hypothesis can beat the best finished one (exact for total
log-probability, since log-probabilities only fall as a hypothesis grows). With an n-gram mixture
(``ngram``, :class:`charlm.eval.mix.NgramMix`) every step extends by the mixture's distribution
after ``<eos>`` + prime + the hypothesis, with the streamed weight, as ``sample`` draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.eval.sample import _stepper, continuation, prime_model
from charlm.models.base import LanguageModel
from charlm.models.config import State
from charlm.models.state import leaves, map_state
from charlm.options import check_all
from charlm.tokenizers import Tokenizer

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix


@dataclass(frozen=True)
class Beam:
    """One hypothesis: continuation text, its ids, log-probability (nats) and whether it reached <eos>."""

    prime: str
    text: str
    ids: list[int]
    logprob: float
    finished: bool
    score: float  # what it was ranked by: logprob, or logprob per token with normalize

    @property
    def tokens(self) -> int:
        return len(self.ids)


def _state_batch_dims(model: LanguageModel, eos: int) -> list[int]:
    """Which dimension of each state tensor is the batch: found by running batches of 1 and 2."""
    one = torch.full((1, 1), eos, device=model.device)  # (1,1)
    small, big = (leaves(model(ids)[1]) for ids in (one, one.repeat(2, 1)))
    return [next((d for d in range(a.dim()) if a.size(d) != b.size(d)), 0) for a, b in zip(small, big, strict=True)]


def _select(state: State, dims: list[int], index: Tensor) -> State:
    """Keep (and repeat) the batch rows ``index`` of every state tensor."""
    leaf = iter(dims)
    return map_state(lambda t: t.index_select(next(leaf), index), state)


def beam_search(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prime: str = "",
    width: int = 5,
    length: int = 100,
    until_eos: bool = False,
    normalize: bool = False,
    ngram: NgramMix | None = None,
) -> list[Beam]:
    """Up to ``width`` best continuations of ``prime``, best first (finished ones first with ``until_eos``)."""
    check_all("beam", {"beam": width, "length": length})
    model.eval()
    prime_ids = tokenizer.encode(prime)
    eos, unk = tokenizer.eos_id, tokenizer.unk_id
    with torch.inference_mode():
        dims = _state_batch_dims(model, eos)
        step = _stepper(model)
        logits, state = prime_model(model, tokenizer, prime_ids, 1)  # (1,V)
        hyps: list[list[int]] = [[]]
        scores = torch.zeros(1, dtype=torch.float64, device=model.device)  # (K,)
        done: list[tuple[list[int], float]] = []
        for _ in range(length):
            logp = F.log_softmax(logits.double(), -1)  # (K,V)
            if ngram is not None:
                logp = ngram.next_logits(logp, [[eos, *prime_ids, *h] for h in hyps])  # (K,V) of the mixture
            logp[:, unk] = float("-inf")
            total = (scores[:, None] + logp).flatten()  # (K*V,)
            top = torch.topk(total, min(2 * width, total.numel()))
            keep: list[tuple[int, int, float]] = []  # (parent, token, logprob)
            for value, flat in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                parent, token = divmod(flat, logp.size(1))
                if value == float("-inf"):
                    break
                if until_eos and token == eos:
                    done.append((hyps[parent] + [token], value))
                elif len(keep) < width:
                    keep.append((parent, token, value))
            hyps = [hyps[p] + [t] for p, t, _ in keep]
            scores = torch.tensor([v for _, _, v in keep], dtype=torch.float64, device=model.device)  # (K,)
            if not keep or _settled(done, keep, normalize):
                break
            parents = torch.tensor([p for p, _, _ in keep], device=model.device)  # (K,)
            tokens = torch.tensor([t for _, t, _ in keep], device=model.device)  # (K,)
            logits, state = step(tokens, _select(state, dims, parents))  # (K,V)
    live = list(zip(hyps, scores.tolist(), strict=True))
    return _results(tokenizer, prime, prime_ids, done, live, width, normalize)


def _settled(done: list[tuple[list[int], float]], keep: list[tuple[int, int, float]], normalize: bool) -> bool:
    """Whether the best finished hypothesis already beats every live one (only provable without normalize)."""
    return bool(done) and not normalize and max(v for _, v in done) >= max(v for _, _, v in keep)


def _results(
    tokenizer: Tokenizer,
    prime: str,
    prime_ids: list[int],
    done: list[tuple[list[int], float]],
    live: list[tuple[list[int], float]],
    width: int,
    normalize: bool,
) -> list[Beam]:
    def make(ids: list[int], logprob: float, finished: bool) -> Beam:
        body = ids[:-1] if finished else ids
        score = logprob / len(ids) if normalize else logprob
        return Beam(prime, continuation(tokenizer, prime_ids, body), ids, logprob, finished, score)

    finished = sorted((make(h, v, True) for h, v in done), key=lambda b: -b.score)
    rest = sorted((make(h, v, False) for h, v in live), key=lambda b: -b.score)
    return (finished + rest)[:width]
