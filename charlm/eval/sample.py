"""Sampling: draw each next token from softmax(logits / T), as ``np.random.choice`` would.

``<unk>`` is never emitted: its probability is set to zero before drawing, which gives exactly
the distribution of the seed notes' "draw again when you get <unk>". Temperature 0 is greedy
argmax; ``top_k`` and ``top_p`` (nucleus) truncate the distribution before drawing. ``num``
samples are drawn together as one batch. A sample ends after ``length`` tokens, at its ``<eos>``
(``until_eos``) or just before the first ``stop`` string; its log-probability is under the
untempered, untruncated model. New text is handed to ``on_token`` as soon as it can no longer
change (a possible start of a stop string or a half-decoded byte sequence is held back).

The model is advanced one token at a time by the function :func:`_stepper` returns: the single
place a faster per-step path can be swapped in (sampling and beam search both use it); with
``precision="bf16"`` it multiplies by bf16 weights (faster at large batches, approximate). The
per-step bookkeeping stays in tensors (drawn ids, where each row ended, float64 log-prob sums, which
equal the Python float sums they replaced); text is decoded per step only to stream or to watch for
stop strings, otherwise once at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.models.base import LanguageModel
from charlm.models.config import State
from charlm.models.stepper import Stepper
from charlm.options import check_all
from charlm.tokenizers import Tokenizer

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix

TokenCallback = Callable[[int, str], None]
Step = Callable[[Tensor, State], tuple[Tensor, State]]


@dataclass(frozen=True)
class Sample:
    """One generated continuation, why it ended (length, eos or stop) and its log-probability (nats)."""

    prime: str
    text: str
    ids: list[int]
    logprob: float
    ended: str = "length"

    @property
    def tokens(self) -> int:
        return len(self.ids)

    @property
    def ppl(self) -> float:
        return math.exp(min(-self.logprob / max(len(self.ids), 1), 700.0))


def check_options(
    temperature: float, top_k: int | None, top_p: float | None, length: int, num: int, precision: str = "fp32"
) -> None:
    """Refuse out-of-range sampling options with one clear line (the declarations' verdicts)."""
    check_all("sample", {"temperature": temperature, "top_k": top_k, "top_p": top_p, "length": length, "num": num,
                         "precision": precision})  # fmt: skip


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Keep the ``top_k`` most likely tokens and/or the smallest set whose mass reaches ``top_p``."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (B,1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B,V)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs >= top_p  # mass before this token already reaches top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def pick(
    logits: Tensor,
    temperature: float,
    generator: torch.Generator | None,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """One next-token id per row from ``logits (B,V)``."""
    if temperature == 0:
        return logits.argmax(-1)  # (B,)
    probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)  # (B,V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


def _stepper(model: LanguageModel, precision: str = "fp32") -> Step:
    """The per-token forward: ``step(ids (B,), state) -> (logits (B,V) float32, state)``.

    The one place sampling and beam search advance the model; a faster path swaps in here.
    """

    stepper = Stepper(model, precision)  # the cell math on the fused weights (nn.LSTM per call costs ~4 ms on CPU)

    def step(ids: Tensor, state: State) -> tuple[Tensor, State]:
        logits, state = stepper.step(ids, state)  # (B,V)
        return logits.float(), state

    return step


def prime_model(model: LanguageModel, tokenizer: Tokenizer, prime_ids: list[int], rows: int) -> tuple[Tensor, State]:
    """Run ``<eos>`` + prime through the model for ``rows`` rows: last logits ``(B,V)`` and state."""
    context = torch.tensor([tokenizer.eos_id, *prime_ids], device=model.device).repeat(rows, 1)  # (B,L)
    logits, state = model(context)  # (B,L,V)
    return logits[:, -1].float(), state


def make_generator(device: torch.device, seed: int | None) -> torch.Generator:
    """A private random stream: seeded for exact repeats, else from the OS."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def last_line(tokenizer: Tokenizer, ids: list[int]) -> list[int]:
    """The ids after the last ``<eos>``: the part of a prime that decodes together with what follows."""
    cut = max((n + 1 for n, i in enumerate(ids) if i == tokenizer.eos_id), default=0)
    return ids[cut:]


def continuation(tokenizer: Tokenizer, prime_ids: list[int], ids: list[int]) -> str:
    """The text ``ids`` add after the prime (at word level it starts with the joining space)."""
    tail = last_line(tokenizer, prime_ids)
    return tokenizer.decode(tail + ids)[len(tokenizer.decode(tail)) :]


class _Text:
    """One row's generated text, decoded a line at a time, cut at stop strings, released when settled.

    Decoding as it goes is only needed to stream or to watch for stop strings (``live``); otherwise
    the ids are decoded once at the end.
    """

    def __init__(self, tokenizer: Tokenizer, prime_ids: list[int], stops: Sequence[str], live: bool) -> None:
        self.tokenizer, self.stops, self.live = tokenizer, [s for s in stops if s], live or any(stops)
        self.prime_ids = prime_ids
        self.line = last_line(tokenizer, prime_ids)
        self.skip = len(tokenizer.decode(self.line))  # characters of the line that belong to the prime
        self.before = ""  # finished lines of the continuation
        self.text = ""
        self.shown = 0
        self.ids: list[int] = []
        self.ended: str | None = None

    def push(self, token: int, until_eos: bool) -> None:
        self.ids.append(token)
        if token == self.tokenizer.eos_id and until_eos:
            self.ended = "eos"
        elif self.live:
            self._decode(token)

    def _decode(self, token: int) -> None:
        if token == self.tokenizer.eos_id:
            self.before += self.tokenizer.decode(self.line)[self.skip :] + "\n"
            self.line, self.skip = [], 0
        else:
            self.line.append(token)
        start = max(0, len(self.text) - max((len(s) for s in self.stops), default=0) - 4)
        self.text = self.before + self.tokenizer.decode(self.line)[self.skip :]
        hits = [n for n in (self.text.find(s, start) for s in self.stops) if n >= 0]
        if hits:
            self.text, self.ended = self.text[: min(hits)], "stop"

    def final(self) -> str:
        """The whole continuation (without the ``<eos>`` that ended it)."""
        if self.live:
            return self.text
        body = self.ids[:-1] if self.ended == "eos" else self.ids
        return continuation(self.tokenizer, self.prime_ids, body)

    def fresh(self, final: bool = False) -> str:
        """Text not yet handed out that can no longer change."""
        end = len(self.text)
        if not (final or self.ended):
            while end > self.shown and self.text[end - 1] == "\ufffd":
                end -= 1  # maybe half of a multi-byte character
            head = self.text[:end]
            end -= max((k for s in self.stops for k in range(1, len(s)) if head.endswith(s[:k])), default=0)
        out = self.text[self.shown : max(end, self.shown)]
        self.shown = max(end, self.shown)
        return out


def sample(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prime: str = "",
    length: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    num: int = 1,
    seed: int | None = None,
    until_eos: bool = False,
    on_token: TokenCallback | None = None,
    stop: Sequence[str] = (),
    precision: str = "fp32",
    ngram: NgramMix | None = None,
) -> list[Sample]:
    """Generate ``num`` continuations of ``prime``; ``on_token(row, text)`` streams new text.

    ``ngram`` draws from the network mixed with an n-gram (:mod:`charlm.eval.mix`); log-probabilities
    are then the mixture's.

    ``precision="bf16"`` multiplies by bf16 copies of the recurrent weights (faster at large ``num``
    on CPUs with native bf16): a close approximation, so a seed repeats exactly only within a precision.
    """
    check_options(temperature, top_k, top_p, length, num, precision)
    model.eval()
    generator = make_generator(model.device, seed)
    prime_ids = tokenizer.encode(prime)
    rows = [_Text(tokenizer, prime_ids, stop, live=on_token is not None) for _ in range(num)]
    live = rows[0].live  # decode every step (streaming or stop strings); else decode once at the end
    device = model.device
    can_end = live or until_eos  # else every row runs to ``length`` and needs no per-step checks
    drawn: list[Tensor] = []  # per step (B,) the drawn tokens
    kept = torch.full((num,), length, device=device)  # (B,) tokens that belong to each row (it ended after them)
    logprob = torch.zeros(num, dtype=torch.float64, device=device)  # (B,) float64 sums, as Python floats were
    with torch.inference_mode():
        step = _stepper(model, precision)
        logits, state = prime_model(model, tokenizer, prime_ids, num)  # (B,V)
        histories = [[tokenizer.eos_id, *prime_ids] for _ in range(num)]
        for t in range(length):
            if ngram is not None:
                logits = ngram.next_logits(logits, histories)  # (B,V) ln p of the mixture
            log_probs = F.log_softmax(logits, -1)  # (B,V) untempered, untruncated
            logits[:, tokenizer.unk_id] = float("-inf")  # in place: these logits are not used again
            nxt = pick(logits, temperature, generator, top_k, top_p)  # (B,)
            drawn.append(nxt)
            if ngram is not None:
                for history, token in zip(histories, nxt.tolist(), strict=True):
                    history.append(token)
            token_lp = log_probs.gather(-1, nxt[:, None]).squeeze(-1)  # (B,) float32
            if not can_end:
                logprob += token_lp  # widened to float64 before adding
            else:
                active = kept > t  # (B,) rows that have not ended
                logprob = torch.where(active, logprob + token_lp, logprob)
                if live:
                    _push_live(rows, nxt.tolist(), kept, t, until_eos, on_token)
                else:
                    kept = torch.where(active & (nxt == tokenizer.eos_id), t + 1, kept)
                if all(row.ended for row in rows) if live else bool((kept <= t + 1).all()):
                    break
            if t + 1 < length:  # no forward for logits nobody reads
                logits, state = step(nxt, state)  # (B,V)
    return _results(rows, prime, torch.stack(drawn, 1), kept, logprob, until_eos, on_token)


def _results(
    rows: list[_Text],
    prime: str,
    ids: Tensor,
    kept: Tensor,
    logprob: Tensor,
    until_eos: bool,
    on_token: TokenCallback | None,
) -> list[Sample]:
    """One :class:`Sample` per row from the drawn ``ids (B,T)``; hands out the rest of streamed text."""
    samples = []
    for r, (row, row_ids, count) in enumerate(zip(rows, ids.tolist(), kept.tolist(), strict=True)):
        if not row.live:  # not decoded as it went: its ids and ending come from the tensors
            row.ids = row_ids[:count]
            row.ended = "eos" if until_eos and row.ids[-1:] == [row.tokenizer.eos_id] else None  # its first <eos>
        if on_token is not None and (rest := row.fresh(final=True)):
            on_token(r, rest)
        samples.append(
            Sample(prime=prime, text=row.final(), ids=row.ids, logprob=float(logprob[r]), ended=row.ended or "length")
        )
    return samples


def _push_live(
    rows: list[_Text], tokens: list[int], kept: Tensor, t: int, until_eos: bool, on_token: TokenCallback | None
) -> None:
    """Decode this step's tokens row by row, stream what settled and mark rows that end (``kept``)."""
    for r, token in enumerate(tokens):
        if rows[r].ended is not None:
            continue
        rows[r].push(token, until_eos)
        if rows[r].ended:
            kept[r] = t + 1
        if on_token is not None and (new := rows[r].fresh()):
            on_token(r, new)
