"""A stateful, branchable scorer, the way decoders use KenLM's ``State``.

::

    s0 = begin()                      the model has read <eos> (the start); s0.logprobs = log p(. | <eos>)
    s1, lp = advance(s0, "the ")      lp = log p("the " | s0); s0 is unchanged, so a decoder can branch
    s2, lp = advance(s1, "cat")       ...
    s3, lp = end(s2)                  log p(<eos> | history): the path's sum now equals score("the cat")

A :class:`LMState` holds the model's recurrent state for one hypothesis (batch size 1) together with
the next-token distribution ``log p(. | history)``, so :meth:`StateScorer.next_logprobs` costs nothing
and advancing by ``n`` tokens runs ``n`` model steps. :meth:`StateScorer.advance_many` extends many
hypotheses by texts of different lengths in one batched run: the states are stacked along their batch
dimension, the token ids right-padded, and each row's state stops changing after its own last token::

    step t:  new = model(ids[:, t], state);  state = where(t < len(row), new, state)   (row by row)

The batch dimension of every state tensor is found once per model by comparing the state of a batch
of 1 with that of a batch of 2. Models whose state changes shape as it reads (history attention while
its memory fills) are advanced in groups of equal length and equal state shape instead, one forward
each. The start state comes from :func:`start_state`: the model's ``start_state(batch)`` when it has
one (a learned start state), else ``None`` (zeros), as in the sentence scorer.

With an n-gram mixture (``StateScorer(model, tokenizer, mix)``, :class:`charlm.eval.mix.NgramMix`)
every distribution a state holds is the mixture ``(1 - lam) p_network + lam p_ngram`` under the
per-line weights, each state remembering its last N-1 tokens (from the start ``<eos>``) for the
n-gram: a path begin -> advance -> end then sums to ``score`` of its text with the same weight.
Without one (weight 0, or a model without an n-gram) the numbers are the network's, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.errors import BadOption
from charlm.models.base import LanguageModel
from charlm.models.config import State
from charlm.models.state import leaves, map_state
from charlm.models.stepper import Stepper
from charlm.tokenizers import Tokenizer

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix


@dataclass(frozen=True)
class LMState:
    """One hypothesis: the model's state after its history, and ``log p(next token | history)``."""

    state: State = field(repr=False)  # the model's recurrent state, batch size 1
    logprobs: Tensor = field(repr=False)  # (V,) float32 next-token log-probabilities
    tokens: int = 0  # tokens fed since begin() (the start <eos> not counted)
    logprob: float = 0.0  # nats: the summed log-probability of those tokens
    ended: bool = False  # whether the last token fed was <eos>
    history: tuple[int, ...] = ()  # with an n-gram mixture: the last N-1 tokens (the start <eos> included)


def _states(states: Any) -> list[LMState]:
    """``states`` checked: a list of what :meth:`StateScorer.begin` and ``advance`` return (else one line)."""
    if isinstance(states, LMState) or not isinstance(states, (list, tuple)):
        raise BadOption(f"states must be a list of LMState (got {type(states).__name__})")
    for s in states:
        if not isinstance(s, LMState):
            raise BadOption(f"a state must be an LMState from begin() or advance() (got {type(s).__name__})")
    return list(states)


def _texts(texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise BadOption(f"texts must be a list of texts, one per state (got {type(texts).__name__})")
    return list(texts)


def start_state(model: LanguageModel, batch: int) -> State:
    """The state a sentence starts from: ``model.start_state(batch)`` if the model has one, else None."""
    make = getattr(model, "start_state", None)
    return make(batch) if callable(make) else None


def _signature(state: State) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(t.shape) for t in leaves(state))


def _batch_dim(one: Tensor, two: Tensor) -> int | None:
    """The dimension that is 1 for a batch of 1 and 2 for a batch of 2 (None: shared by all rows)."""
    for dim, (a, b) in enumerate(zip(one.shape, two.shape, strict=True)):
        if a == 1 and b == 2:
            return dim
    return None


class StateScorer:
    """``begin``, ``advance``, ``advance_many``, ``next_logprobs`` and ``end`` over one loaded model."""

    def __init__(self, model: LanguageModel, tokenizer: Tokenizer, mix: NgramMix | None = None) -> None:
        self.model, self.tokenizer, self.mix = model, tokenizer, mix
        self.keep = mix.ngram.order - 1 if mix is not None else 0  # tokens of history the n-gram reads
        model.eval()
        self.stepper = Stepper(model)
        with torch.inference_mode():
            one = self._read(torch.full((1, 2), tokenizer.eos_id), start_state(model, 1))[1]
            two = self._read(torch.full((2, 1), tokenizer.eos_id), start_state(model, 2))[1]
            first = self._read(torch.full((1, 1), tokenizer.eos_id), start_state(model, 1))[1]
        self.dims = [_batch_dim(a, b) for a, b in zip(leaves(first), leaves(two), strict=True)]
        # A state that keeps its shape as it reads (every recurrent core) can be stepped under a mask.
        self.fixed_shape = _signature(first) == _signature(one)

    def _read(self, ids: Tensor, state: State) -> tuple[Tensor, State]:
        logits, state = self.model(ids.to(self.model.device), state)  # (B,T,V)
        return F.log_softmax(logits.float(), dim=-1), state

    def begin(self) -> LMState:
        """The state after the start ``<eos>``: nothing fed yet, log-probability 0."""
        with torch.inference_mode():
            logp, state = self._read(torch.full((1, 1), self.tokenizer.eos_id), start_state(self.model, 1))
        history = self._trim([self.tokenizer.eos_id])
        return LMState(state, self._mixed(logp[0, -1:], [history])[0], history=history)

    def _trim(self, history: Sequence[int]) -> tuple[int, ...]:
        return tuple(history[-self.keep :]) if self.keep else ()

    def _mixed(self, logp: Tensor, histories: Sequence[Sequence[int]]) -> Tensor:
        """The mixture's ln p (B,V) after each history, from the network's ``logp (B,V)`` (unchanged without one)."""
        if self.mix is None:
            return logp
        return self.mix.next_logits(logp, [list(h) for h in histories], lines=True)

    def next_logprobs(self, s: LMState) -> Tensor:
        """``log p(token | history)`` for every token id: a (V,) float32 tensor."""
        return _states([s])[0].logprobs

    def advance(self, s: LMState, text: str) -> tuple[LMState, float]:
        """Feed ``text``; returns the new state and ``log p(text | s)`` in nats (``s`` is unchanged)."""
        if not isinstance(text, str):
            raise BadOption(f"advance takes a text (got {type(text).__name__})")
        return self.advance_many([s], [text])[0]

    def end(self, s: LMState) -> tuple[LMState, float]:
        """Feed ``<eos>``: the path's total now equals ``score`` of its text (which counts the final <eos>)."""
        return self.advance_ids([s], [[self.tokenizer.eos_id]])[0]

    def advance_many(self, states: Sequence[LMState], texts: Sequence[str]) -> list[tuple[LMState, float]]:
        """Extend ``states[i]`` by ``texts[i]`` for every i in one batched run (a state may repeat)."""
        states, texts = _states(states), _texts(texts)
        if len(states) != len(texts):
            raise BadOption(f"advance_many needs one text per state (got {len(states)} states, {len(texts)} texts)")
        return self.advance_ids(states, [self.tokenizer.encode(t) for t in texts])

    def advance_ids(self, states: Sequence[LMState], ids: Sequence[Sequence[int]]) -> list[tuple[LMState, float]]:
        """:meth:`advance_many` for token ids."""
        states = _states(states)
        if not states:
            return []
        with torch.inference_mode():
            if self.fixed_shape:
                return self._stepped(states, ids)
            out: list[tuple[LMState, float] | None] = [None] * len(states)
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, s in enumerate(states):
                groups.setdefault((len(ids[i]), _signature(s.state)), []).append(i)
            for rows in groups.values():
                for i, result in zip(
                    rows, self._grouped([states[i] for i in rows], [ids[i] for i in rows]), strict=True
                ):
                    out[i] = result
            return [r for r in out if r is not None]

    def _stack(self, states: Sequence[LMState]) -> State:
        """One batched state from single-row states, along each tensor's batch dimension."""
        if states[0].state is None:
            return None
        columns = zip(*(leaves(s.state) for s in states), strict=True)
        stacked = iter(
            [torch.cat(col, d) if d is not None else col[0] for col, d in zip(columns, self.dims, strict=True)]
        )
        return map_state(lambda _: next(stacked), states[0].state)

    def _row(self, state: State, row: int) -> State:
        """Row ``row`` of a batched state, as a batch of 1."""
        dims = iter(self.dims)

        def pick(t: Tensor) -> Tensor:
            d = next(dims)
            return t if d is None else t.narrow(d, row, 1)

        return map_state(pick, state)

    def _blend(self, keep_new: Tensor, new: State, old: State) -> State:
        """Per row: ``new`` where ``keep_new (B,)`` is true, else ``old``."""
        if new is None:
            return None
        olds, dims = iter(leaves(old)), iter(self.dims)

        def choose(t: Tensor) -> Tensor:
            o, d = next(olds), next(dims)
            if d is None:
                return t
            shape = [1] * t.dim()
            shape[d] = -1
            return torch.where(keep_new.view(shape).to(t.device), t, o)

        return map_state(choose, new)

    def _stepped(self, states: Sequence[LMState], ids: Sequence[Sequence[int]]) -> list[tuple[LMState, float]]:
        """Every row stepped together, right-padded; a row's state and distribution freeze after its end."""
        batch, longest = len(states), max((len(x) for x in ids), default=0)
        lengths = torch.tensor([len(x) for x in ids])  # (B,)
        table = torch.full((batch, max(longest, 1)), self.tokenizer.eos_id, dtype=torch.long)  # (B,T)
        for row, x in enumerate(ids):
            table[row, : len(x)] = torch.tensor(list(x), dtype=torch.long)
        device = self.model.device
        state = self._stack(states)
        dist = torch.stack([s.logprobs for s in states])  # (B,V)
        gained = torch.zeros(batch, dtype=torch.float64)
        histories = [list(s.history) for s in states]
        for t in range(longest):
            live = t < lengths  # (B,)
            token = table[:, t].to(device)  # (B,)
            got = dist.gather(1, token[:, None])[:, 0].double().cpu()  # (B,)
            gained += torch.where(live, got, torch.zeros_like(got))
            logits, new = self.stepper.step(token, state)  # (B,V)
            state = self._blend(live, new, state)
            for r in range(batch) if self.mix is not None else ():
                histories[r] = list(self._trim([*histories[r], *ids[r][t : t + 1]]))
            fresh = self._mixed(F.log_softmax(logits.float(), dim=-1), histories)  # (B,V)
            dist = torch.where(live.to(device)[:, None], fresh, dist)  # (B,V)
        return [
            self._result(states[r], ids[r], self._row(state, r), dist[r], float(gained[r]), histories[r])
            for r in range(batch)
        ]

    def _grouped(self, states: Sequence[LMState], ids: Sequence[Sequence[int]]) -> list[tuple[LMState, float]]:
        """Rows of equal length and state shape in one forward of the whole model."""
        if not ids[0]:
            return [(s, 0.0) for s in states]
        x = torch.tensor([list(r) for r in ids], dtype=torch.long)  # (B,T)
        dist = torch.stack([s.logprobs for s in states])  # (B,V)
        logp, state = self._read(x, self._stack(states))  # (B,T,V)
        histories = [list(s.history) for s in states]
        if self.mix is not None:
            columns = []
            for t in range(x.shape[1]):
                histories = [list(self._trim([*h, int(x[r, t])])) for r, h in enumerate(histories)]
                columns.append(self._mixed(logp[:, t], histories))
            logp = torch.stack(columns, 1)  # (B,T,V) of the mixture
        first = dist.gather(1, x[:, :1].to(dist.device))  # (B,1)
        rest = logp[:, :-1].gather(-1, x[:, 1:, None].to(logp.device))[..., 0]  # (B,T-1)
        totals = torch.cat([first, rest], 1).double().sum(1).cpu()  # (B,)
        return [
            self._result(s, ids[r], self._row(state, r), logp[r, -1], float(totals[r]), histories[r])
            for r, s in enumerate(states)
        ]

    def _result(
        self, s: LMState, ids: Sequence[int], state: State, dist: Tensor, gained: float, history: Sequence[int]
    ) -> tuple[LMState, float]:
        if not ids:
            return s, 0.0
        ended = ids[-1] == self.tokenizer.eos_id
        new = LMState(state, dist, s.tokens + len(ids), s.logprob + gained, ended, tuple(history))
        return new, gained
