"""Sentence scoring: log-probabilities of many sentences in padded batches, and their ranking.

Conventions, as in KenLM: a sentence is scored from a fresh state, conditioned on ``<eos>`` as its
start (the start symbol itself is not counted), and its own ``<eos>`` end is counted as a token.
Bits per character divide total nats by ``len(text) + 1`` characters (the +1 is the newline that
``<eos>`` stands for) times ln 2, so char, word and subword models compare on the same text.
Whole files (state carried across lines) are scored in :mod:`charlm.eval.corpus`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import torch

from charlm.errors import BadOption
from charlm.models.base import LanguageModel
from charlm.models.scoring import padded_lines, token_logprobs
from charlm.options import check
from charlm.tokenizers import Tokenizer

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix
    from charlm.ngram.spelling import Spelling

LN2 = math.log(2.0)
LN10 = math.log(10.0)
NORMALIZE = ("total", "token", "char")
PRECISIONS = ("fp32", "bf16")


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

    @property
    def oov_rate(self) -> float:
        return self.oov / max(self.tokens, 1)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            log10prob=self.log10prob,
            bits=self.bits,
            nats_per_token=self.nats_per_token,
            ppl=self.ppl,
            ppl_no_oov=self.ppl_no_oov,
            bpc=self.bpc,
            oov_rate=self.oov_rate,
        )
        return out


@dataclass(frozen=True)
class SentenceScore(Totals):
    """One sentence's score; ``per_token`` lists (token, nats) when asked for.

    ``normalize`` names the ranking criterion, ``score`` is the sentence's value under it and
    ``rank`` its place among the sentences scored together (1 = most probable).
    """

    text: str = ""
    per_token: list[tuple[str, float]] | None = None
    alternatives: list[list[tuple[str, float]]] | None = None  # per token: the network's top (token, nats)
    normalize: str = "total"
    score: float = 0.0
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.per_token is None:
            out.pop("per_token")
        else:
            out["per_token"] = [{"token": t, "logprob": lp} for t, lp in self.per_token]
        out.pop("alternatives")
        if self.per_token is not None and self.alternatives is not None:
            for entry, options in zip(out["per_token"], self.alternatives, strict=True):
                entry["alternatives"] = [{"token": t, "logprob": lp} for t, lp in options]
        return out


@dataclass(frozen=True)
class Ranking:
    """Sentences best first under ``normalize``, and how far the best is ahead of the second."""

    normalize: str
    scores: list[SentenceScore]  # best first

    @property
    def best(self) -> SentenceScore:
        return self.scores[0]

    @property
    def margin(self) -> float | None:
        """Score of the best minus score of the runner-up (nats, per token or per char); None for one."""
        return self.scores[0].score - self.scores[1].score if len(self.scores) > 1 else None


def normalized(score: Totals, normalize: str) -> float:
    """The ranking value: total nats, nats per token, or nats per character."""
    if normalize == "total":
        return score.logprob
    if normalize == "token":
        return score.logprob / max(score.tokens, 1)
    if normalize == "char":
        return score.logprob / max(score.chars, 1)
    raise BadOption(f"unknown --normalize {normalize!r}; use one of {', '.join(NORMALIZE)}")


def rank(scores: Sequence[SentenceScore], normalize: str = "total") -> list[SentenceScore]:
    """The same scores in input order, each given its ``score`` and ``rank`` under ``normalize``."""
    valued = [replace(s, normalize=normalize, score=normalized(s, normalize)) for s in scores]
    order = sorted(range(len(valued)), key=lambda i: -valued[i].score)
    places = {i: place for place, i in enumerate(order, 1)}
    return [replace(s, rank=places[i]) for i, s in enumerate(valued)]


def ranking(scores: Sequence[SentenceScore], normalize: str = "total") -> Ranking:
    """A :class:`Ranking` (best first) of ``scores`` under ``normalize``."""
    ranked = rank(scores, normalize)
    return Ranking(normalize, sorted(ranked, key=lambda s: s.rank))


def check_precision(precision: str) -> None:
    """Scoring runs in exact fp32 unless bf16 autocast is asked for."""
    if precision not in PRECISIONS:
        raise BadOption(f"unknown --precision {precision!r} for scoring; use fp32 (exact) or bf16 (faster)")


def _sentence_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text) + [tokenizer.eos_id]


def score_sentences(
    model: LanguageModel,
    tokenizer: Tokenizer,
    texts: Sequence[str],
    per_token: bool = False,
    batch_size: int = 64,
    precision: str = "fp32",
    ngram: NgramMix | None = None,
    spelling: Spelling | None = None,
) -> list[SentenceScore]:
    """Score each text from a fresh state, in padded batches of similar length (input order kept).

    ``ngram`` mixes an n-gram into every token's probability (:mod:`charlm.eval.mix`); ``spelling``
    (word models, ``--unk spell``) adds to each unknown word's ``<unk>`` the price of its spelling.
    """
    check("batch_size", batch_size)
    check_precision(precision)
    model.eval()
    encoded = [_sentence_ids(tokenizer, t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    results: list[SentenceScore | None] = [None] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            inputs, targets, _ = padded_lines([encoded[i] for i in idx], tokenizer.eos_id)
            # Padding sits after each sentence, so a recurrent model cannot carry it back into the scores.
            logp, _ = token_logprobs(model, inputs, targets, precision)  # (B,T)
            if ngram is not None:
                logp = ngram.lines(logp, [encoded[i] for i in idx])  # (B,T) float64
            if spelling is not None:
                logp = spelled(logp, tokenizer, [texts[i] for i in idx], spelling)
            for row, i in enumerate(idx):
                results[i] = sentence_score(tokenizer, texts[i], encoded[i], logp[row, : len(encoded[i])], per_token)
    return [r for r in results if r is not None]


def spelled(logp: torch.Tensor, tokenizer: Tokenizer, texts: Sequence[str], spelling: Spelling) -> torch.Tensor:
    """``logp (B,T)`` with each unknown word's spelling price added at its ``<unk>``: (B,T) float64."""
    from charlm.tokenizers.unk import unknown_words_at

    found = [unknown_words_at(tokenizer, text) for text in texts]
    words = [word for row in found for _, word in row]
    if not words:
        return logp
    costs = iter(spelling.unknown_logprobs(words).tolist())
    out = logp.double().clone()
    for row, places in enumerate(found):
        for position, _ in places:
            out[row, position] += next(costs)
    return out


def sentence_score(
    tokenizer: Tokenizer, text: str, ids: list[int], logp: torch.Tensor, per_token: bool
) -> SentenceScore:
    """Totals of one sentence from its token ids and their log-probabilities ``logp (T,)``."""
    values = logp.tolist()
    unk = tokenizer.unk_id
    pieces = [(tokenizer.token_str(i), lp) for i, lp in zip(ids, values, strict=True)] if per_token else None
    return SentenceScore(
        logprob=math.fsum(values),
        tokens=len(ids),
        chars=len(text) + 1,
        oov=sum(i == unk for i in ids),
        logprob_no_oov=math.fsum(lp for i, lp in zip(ids, values, strict=True) if i != unk),
        text=text,
        per_token=pieces,
    )
