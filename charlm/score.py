"""Scoring: log-probabilities of sentences (batched) and of whole corpora (streamed).

Conventions, as in KenLM: a sentence is scored from a fresh state, conditioned on ``<eos>`` as its
start (the start symbol itself is not counted), and its own ``<eos>`` end is counted as a token.
Bits per character divide total nats by ``len(text) + 1`` characters (the +1 is the newline that
``<eos>`` stands for) times ln 2, so char, word and subword models compare on the same text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from charlm.models import LanguageModel
from charlm.tokenizers import Tokenizer

LN2 = math.log(2.0)
LN10 = math.log(10.0)


@dataclass(frozen=True)
class Totals:
    """Summed log-probability of a token sequence with its OOV accounting."""

    logprob: float  # nats, all tokens
    tokens: int
    chars: int
    oov: int
    logprob_no_oov: float  # nats, tokens that are not <unk>

    @property
    def log10prob(self) -> float:
        return self.logprob / LN10

    @property
    def bits(self) -> float:
        return -self.logprob / LN2

    @property
    def nats_per_token(self) -> float:
        return -self.logprob / max(self.tokens, 1)

    @property
    def ppl(self) -> float:
        return math.exp(min(self.nats_per_token, 700.0))

    @property
    def ppl_no_oov(self) -> float:
        n = self.tokens - self.oov
        return math.exp(min(-self.logprob_no_oov / n, 700.0)) if n else math.nan

    @property
    def bpc(self) -> float:
        return self.bits / max(self.chars, 1)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(log10prob=self.log10prob, bits=self.bits, ppl=self.ppl, ppl_no_oov=self.ppl_no_oov, bpc=self.bpc)
        return out


@dataclass(frozen=True)
class SentenceScore(Totals):
    """One sentence's score; ``per_token`` lists (token, nats) when asked for."""

    text: str = ""
    per_token: list[tuple[str, float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.per_token is None:
            out.pop("per_token")
        else:
            out["per_token"] = [{"token": t, "logprob": lp} for t, lp in self.per_token]
        return out


@dataclass(frozen=True)
class CorpusScore(Totals):
    """A whole text's score, state carried across lines."""

    path: str = ""


def _sentence_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text) + [tokenizer.eos_id]


@torch.no_grad()
def score_sentences(
    model: LanguageModel,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    per_token: bool = False,
    batch_size: int = 64,
) -> list[SentenceScore]:
    """Score each text from a fresh state, in padded batches of similar length."""
    model.eval()
    device = model.device
    encoded = [_sentence_ids(tokenizer, t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    results: list[SentenceScore | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        longest = max(len(encoded[i]) for i in idx)
        targets = torch.zeros(len(idx), longest, dtype=torch.long)  # (B,T), right-padded
        mask = torch.zeros(len(idx), longest, dtype=torch.bool)
        for row, i in enumerate(idx):
            targets[row, : len(encoded[i])] = torch.tensor(encoded[i])
            mask[row, : len(encoded[i])] = True
        inputs = torch.cat([torch.full((len(idx), 1), tokenizer.eos_id), targets[:, :-1]], dim=1)  # (B,T)
        logits, _ = model(inputs.to(device))  # (B,T,V); padding sits after each sentence, so it cannot leak back
        logp = F.log_softmax(logits.float(), dim=-1).gather(-1, targets.to(device).unsqueeze(-1)).squeeze(-1).cpu()
        for row, i in enumerate(idx):
            results[i] = _sentence_score(tokenizer, texts[i], encoded[i], logp[row, : len(encoded[i])], per_token)
    return [r for r in results if r is not None]


def _sentence_score(
    tokenizer: Tokenizer, text: str, ids: list[int], logp: torch.Tensor, per_token: bool
) -> SentenceScore:
    is_oov = torch.tensor([i == tokenizer.unk_id for i in ids])
    pieces = [(tokenizer.token_str(i), float(lp)) for i, lp in zip(ids, logp.tolist(), strict=True)] if per_token else None
    return SentenceScore(logprob=float(logp.sum()), tokens=len(ids), chars=len(text) + 1, oov=int(is_oov.sum()),
                         logprob_no_oov=float(logp[~is_oov].sum()), text=text, per_token=pieces)


@torch.no_grad()
def score_text(
    model: LanguageModel,
    tokenizer: Tokenizer,
    text: str,
    window: int = 512,
    path: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> CorpusScore:
    """Score a whole text as one stream (state carried across lines), ``window`` tokens at a time."""
    model.eval()
    device = model.device
    ids = torch.from_numpy(tokenizer.encode_array(text)).long()
    inputs = torch.cat([torch.tensor([tokenizer.eos_id]), ids[:-1]])
    total = total_no_oov = 0.0
    oov = int((ids == tokenizer.unk_id).sum())
    state = None
    for start in range(0, ids.numel(), window):
        x = inputs[start : start + window].unsqueeze(0).to(device)  # (1,T)
        y = ids[start : start + window].unsqueeze(0).to(device)  # (1,T)
        logits, state = model(x, state)  # (1,T,V)
        logp = F.log_softmax(logits.float(), dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)  # (1,T)
        total += float(logp.sum())
        total_no_oov += float(logp[y != tokenizer.unk_id].sum())
        if progress:
            progress(min(start + window, ids.numel()), ids.numel())
    return CorpusScore(logprob=total, tokens=int(ids.numel()), chars=len(text), oov=oov,
                       logprob_no_oov=total_no_oov, path=path)
