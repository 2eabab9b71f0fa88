"""Next-token and next-word prediction, and filling a gap: ``charlm predict`` and ``Model.predict``.

* :func:`predict_tokens`: the k most probable next tokens after a prefix (the model's own units).
* :func:`predict_words`: for a char or subword model, the k most probable next *words*, by a beam
  over tokens until a word boundary. A word's probability is that of its tokens followed by any
  boundary: whitespace, ``<eos>``, punctuation, or a CJK character (in Chinese text each character
  is a word of its own, so one is a word when it comes first and a boundary after other letters).
  A prefix that ends inside a word (no trailing space) has that word completed; a prefix that ends
  with a space gets the next word. The search stops when no open hypothesis can still beat the k-th
  word found (probabilities only shrink as tokens are added). For a word model the tokens are the words.
* :func:`fill_blank`: a sentence with ``___`` in it. With candidates, each is put in the gap and
  ranked by the whole sentence's probability (the mean of both directions for a ``--direction both``
  model); without, words proposed from the left context are ranked the same way.

All of them read the scorer's distributions: with an n-gram mixture in the scorer
(:class:`~charlm.eval.scorer_state.StateScorer` ``mix``) the next-token probabilities, the word beam
and the sentence scores of ``fill_blank`` are the mixture's, as ``score`` computes them per line.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from charlm.errors import BadOption, CharlmError
from charlm.eval.bidirectional import is_bidirectional, score_both_sentences
from charlm.eval.score import score_sentences
from charlm.eval.scorer_state import LMState, StateScorer
from charlm.options import check
from charlm.tokenizers.base import EOS

if TYPE_CHECKING:
    from charlm.ngram.spelling import Spelling

BLANK = "___"


@dataclass(frozen=True)
class Prediction:
    """One proposed token or word with its log-probability (nats) given the prefix."""

    text: str
    logprob: float
    sentence_logprob: float | None = None  # fill_blank: the whole sentence with this word in the gap

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "logprob": self.logprob, "prob": self.prob}
        if self.sentence_logprob is not None:
            out["sentence_logprob"] = self.sentence_logprob
        return out


def is_solo(ch: str) -> bool:
    """A character that is a word by itself and ends any word before it: punctuation, symbols, CJK."""
    cp = ord(ch)
    cjk = 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FFFF
    return cjk or unicodedata.category(ch)[0] in "PS"


def _check_k(k: int) -> None:
    check("k", k)


def predict_tokens(scorer: StateScorer, prefix: str, k: int = 10, keep_unk: bool = False) -> list[Prediction]:
    """The ``k`` most probable next tokens after ``prefix`` (read from the start of a sentence)."""
    _check_k(k)
    state, _ = scorer.advance(scorer.begin(), prefix)
    logp = scorer.next_logprobs(state).clone()
    if not keep_unk:
        logp[scorer.tokenizer.unk_id] = -math.inf
    top = torch.topk(logp, min(k, logp.numel()))
    tok = scorer.tokenizer
    return [
        Prediction(tok.token_str(int(i)), float(v))
        for v, i in zip(top.values, top.indices, strict=True)
        if v > -math.inf
    ]


def _surfaces(scorer: StateScorer) -> list[str | None]:
    """Each token's text (``<eos>`` as a newline, sentencepiece's ``▁`` as a space); None for ``<unk>``."""
    tok = scorer.tokenizer
    out: list[str | None] = []
    for i in range(tok.vocab_size):
        if i == tok.unk_id:
            out.append(None)
        elif i == tok.eos_id:
            out.append("\n")
        else:
            out.append(tok.token_str(i).replace("\u2581", " "))
    return out


@dataclass(frozen=True)
class _Hyp:
    state: LMState
    word: str  # the word so far (the unfinished fragment of the prefix included)
    logprob: float  # of the tokens fed after the prefix


class _WordSearch:
    """The beam over tokens to a word boundary (see the module docstring)."""

    def __init__(self, scorer: StateScorer, k: int, beam: int, max_tokens: int) -> None:
        self.scorer, self.k, self.beam, self.max_tokens = scorer, k, beam, max_tokens
        self.surfaces = _surfaces(scorer)
        ends = [s is not None and (s[:1].isspace() or is_solo(s[:1])) for s in self.surfaces]
        self.ends = torch.tensor(ends)  # (V,) tokens that close an open word
        self.found: dict[str, float] = {}

    def add(self, word: str, logprob: float) -> None:
        old = self.found.get(word)
        self.found[word] = logprob if old is None else float(torch.logaddexp(torch.tensor(old), torch.tensor(logprob)))

    def kth(self) -> float:
        values = sorted(self.found.values(), reverse=True)
        return values[self.k - 1] if len(values) >= self.k else -math.inf

    def expand(self, hyp: _Hyp) -> list[tuple[_Hyp, int]]:
        """Record the words ``hyp`` finishes; return the open extensions (hypothesis, token id) to feed."""
        dist = hyp.state.logprobs.float().cpu()
        if hyp.word and bool(self.ends.any()):
            self.add(hyp.word, hyp.logprob + float(torch.logsumexp(dist[self.ends], 0)))
        width = min(dist.numel(), 3 * self.beam)
        top = torch.topk(dist, width)
        opened: list[tuple[_Hyp, int]] = []
        for value, index in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            surface, lp = self.surfaces[index], hyp.logprob + value
            if surface is None or lp == -math.inf:
                continue
            word = self._step(hyp.word, surface, lp)
            if word is not None:
                opened.append((_Hyp(hyp.state, word, lp), index))
        return opened

    def _step(self, word: str, surface: str, lp: float) -> str | None:
        """The word after this token if it stays open; None when the token finishes (or ends) it."""
        for n, ch in enumerate(surface):
            if ch.isspace() or is_solo(ch):
                head = word + surface[:n]
                if head:  # a boundary after letters: counted in the boundary mass for n == 0
                    if n:
                        self.add(head, lp)
                    return None
                if ch == "\n":
                    self.add(EOS, lp)
                    return None
                if is_solo(ch):
                    self.add(ch, lp)
                    return None
                continue  # leading space: the word has not begun
        stripped = (word + surface).lstrip()
        return stripped if stripped else ""

    def run(self, start: LMState, fragment: str) -> list[Prediction]:
        hyps = [_Hyp(start, fragment, 0.0)]
        for _ in range(self.max_tokens):
            opened = [item for hyp in hyps for item in self.expand(hyp)]
            opened.sort(key=lambda item: -item[0].logprob)
            opened = [item for item in opened[: self.beam] if item[0].logprob > self.kth()]
            if not opened:
                break
            fed = self.scorer.advance_ids([h.state for h, _ in opened], [[i] for _, i in opened])
            hyps = [_Hyp(s, h.word, h.logprob) for (h, _), (s, _) in zip(opened, fed, strict=True)]
        best = sorted(self.found.items(), key=lambda kv: -kv[1])[: self.k]
        return [Prediction(word, lp) for word, lp in best]


def predict_words(
    scorer: StateScorer, prefix: str, k: int = 10, beam: int | None = None, max_tokens: int = 30
) -> list[Prediction]:
    """The ``k`` most probable next words (see the module docstring); tokens for a word model."""
    _check_k(k)
    if scorer.tokenizer.kind == "word":
        return [p for p in predict_tokens(scorer, prefix, k)]
    fragment = "" if not prefix or prefix[-1].isspace() else prefix.split()[-1]
    if fragment and is_solo(fragment[-1]):
        fragment = ""
    while fragment and any(is_solo(c) for c in fragment):  # only the letters after the last boundary
        fragment = fragment[1:]
    state, _ = scorer.advance(scorer.begin(), prefix)
    return _WordSearch(scorer, k, beam or max(2 * k, 10), max_tokens).run(state, fragment)


def _sentence_logprobs(
    scorer: StateScorer, texts: Sequence[str], both: torch.nn.Module | None, spelling: Spelling | None = None
) -> list[float]:
    """Whole-sentence log-probabilities (the mean of both directions for a --direction both model);
    ``spelling`` prices each unknown word of a word model by its spelling, as ``score --unk spell``."""
    tok = scorer.tokenizer
    if both is not None and is_bidirectional(both):
        if scorer.mix is not None:
            raise CharlmError("a --direction both model has no n-gram to mix; use --ngram-weight 0")
        by_text = {s.text: s.mean for s in score_both_sentences(both, tok, texts)}
        return [by_text[t] for t in texts]
    return [s.logprob for s in score_sentences(scorer.model, tok, texts, ngram=scorer.mix, spelling=spelling)]


def fill_blank(
    scorer: StateScorer,
    text: str,
    candidates: Sequence[str] = (),
    k: int = 10,
    propose: int = 30,
    both: torch.nn.Module | None = None,
    spelling: Spelling | None = None,
) -> list[Prediction]:
    """Words for the ``___`` in ``text``, best first by the whole sentence's log-probability.

    ``spelling`` (word models) prices a candidate the vocabulary lacks as ``<unk>`` times the
    probability of its spelling, so unknown candidates do not all tie (:mod:`charlm.ngram.spelling`).

    Each result's ``logprob`` is its share among the words ranked (a softmax over the sentence
    scores, so the shares sum to 1); ``sentence_logprob`` is the sentence's own log-probability,
    the mean of both directions when ``both`` is a ``--direction both`` model (``scorer`` reads
    its forward half).
    """
    _check_k(k)
    if text.count(BLANK) != 1:
        raise BadOption(f"--blank needs exactly one {BLANK} in the text (found {text.count(BLANK)})")
    words = [c.strip() for c in candidates if c.strip()]
    if not words:
        left = text[: text.index(BLANK)]
        words = [p.text for p in predict_words(scorer, left, max(propose, k)) if p.text != EOS]
    if not words:
        raise CharlmError("no words to put in the gap; give --candidates a,b,c")
    sentences = [text.replace(BLANK, w) for w in words]
    totals = _sentence_logprobs(scorer, sentences, both, spelling)
    norm = float(torch.logsumexp(torch.tensor(totals, dtype=torch.float64), 0))
    ranked = sorted(zip(words, totals, strict=True), key=lambda wt: -wt[1])
    return [Prediction(w, t - norm, t) for w, t in ranked[: k if not candidates else len(ranked)]]
