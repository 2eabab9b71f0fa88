"""The language model every architecture shares: embed -> core -> head.

::

    ids (B,T) --Embedding--> (B,T,E) --dropout--> core --> (B,T,H) --dropout--> [proj H->E] --Linear--> logits (B,T,V)
                                                   ^  |
                                          state ---+  +--> new state (carried across TBPTT windows)

A *core* is any ``nn.Module`` with ``forward(x (B,T,E), state | None) -> (y (B,T,H), state)`` and an
``output_size`` attribute; cores are looked up by name in :mod:`charlm.models` (the ``--arch``
registry). The loss lives outside the model so training, scoring and sampling share one forward.
A state is a tensor or a (nested) tuple of tensors; :func:`charlm.models.state.map_state` walks it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from charlm.models.attention import HistoryAttention
from charlm.models.config import ModelConfig, State
from charlm.models.dropout import LockedDropout, embedding_dropout
from charlm.models.registry import get_arch, validate_model
from charlm.models.start import StartState, batch_dims, run_with_resets, zeros_like_state


class LanguageModel(nn.Module):
    """``(ids (B,T), state) -> (logits (B,T,V), state)`` for any registered core."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        validate_model(config)
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.drop = LockedDropout(config.dropout) if config.locked_dropout else nn.Dropout(config.dropout)
        self.core = build_core(config, config.embed)
        self.proj, self.head = self._head(self.core.output_size)
        if config.direction == "both":  # ELMo: a second LM reads the reversed stream, sharing the embedding
            self.core_bwd = build_core(config, config.embed)
            self.proj_bwd, self.head_bwd = self._head(self.core_bwd.output_size)
        # issue 13: a learned start state (models/start.py); absent in older models, which start from zeros
        self.start = StartState(config.embed) if config.start_state == "learned" else None
        self._state_dims: list[int] | None = None

    def _head(self, out: int) -> tuple[nn.Module | None, nn.Linear]:
        config = self.config
        # Tied weights share the (V,E) matrix, so a hidden state of another width is projected to E.
        proj = nn.Linear(out, config.embed) if config.tie_weights and out != config.embed else None
        head = nn.Linear(config.embed if config.tie_weights else out, config.vocab_size)
        if config.tie_weights:
            head.weight = self.embed.weight
        return proj, head

    def _embed(self, ids: Tensor) -> Tensor:
        weight = embedding_dropout(self.embed.weight, self.config.dropoute, self.training)  # (V,E)
        return self.drop(nn.functional.embedding(ids, weight))  # (B,T,E)

    def _features(self, core: nn.Module, proj: nn.Module | None, ids: Tensor, state: State) -> tuple[Tensor, State]:
        y, state = core(self._embed(ids), state)  # (B,T,H)
        y = self.drop(y)
        if proj is not None:
            y = proj(y)  # (B,T,E)
        return y, state

    def _read(
        self, core: nn.Module, proj: nn.Module | None, head: nn.Linear, ids: Tensor, state: State
    ) -> tuple[Tensor, State]:
        y, state = self._features(core, proj, ids, state)  # (B,T,D)
        return head(y), state  # (B,T,V)

    def forward(self, ids: Tensor, state: State = None, resets: Tensor | None = None) -> tuple[Tensor, State]:
        """Logits for ``ids``; ``state=None`` is the start of a line (the start state).

        ``resets (B,T)``, when given, marks steps whose incoming state is the start state again (that
        row only): ``--reset-at-eos`` (:mod:`charlm.models.start`).
        """
        if state is None:
            state = self.start_state(ids.size(0))
        if resets is None:
            return self._read(self.core, self.proj, self.head, ids, state)
        if self._state_dims is None:
            self._state_dims = batch_dims(self.core, self.config.embed, self.device)
        y, state = run_with_resets(self.core, self._embed(ids), state, resets, self._fresh, self._state_dims)
        y = self.drop(y)
        return self.head(self.proj(y) if self.proj is not None else y), state  # (B,T,V)

    def start_state(self, batch: int) -> State:
        """The state every line starts from: None (zeros, for the core to fill in) or the learned one."""
        return None if self.start is None else self.start(self.core, batch)

    def _fresh(self, like: State, batch: int) -> State:
        return zeros_like_state(like) if self.start is None else self.start(self.core, batch)

    def features(self, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
        """The vectors the head reads, ``(B,T,D)`` (after dropout and any tied-weight projection)."""
        return self._features(self.core, self.proj, ids, state)

    def logits_from(self, y: Tensor) -> Tensor:
        """Logits ``(B,T,V)`` from :meth:`features`: ``forward`` is ``logits_from(features(...))``."""
        return self.head(y)

    def backward_lm(self, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
        """The backward LM of a ``direction="both"`` model; ``ids (B,T)`` are already reversed."""
        return self._read(self.core_bwd, self.proj_bwd, self.head_bwd, ids, state)

    def training_loss(self, loss: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """The trainer's hook: the forward loss, averaged with the backward LM's loss when there is one.

        The backward LM reads the window reversed (input ``y`` flipped, target ``x`` flipped) from a
        fresh state: its context lies in the *next* window, which TBPTT has not read yet.
        """
        if self.config.direction != "both":
            return loss
        logits, _ = self.backward_lm(y.flip(1))  # (B,T,V)
        backward = nn.functional.cross_entropy(logits.float().flatten(0, 1), x.flip(1).flatten())
        return 0.5 * (loss + backward)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device


def build_core(config: ModelConfig, input_size: int) -> nn.Module:
    """The core registered under ``config.arch``, wrapped in history attention when ``config.attention``."""
    core = get_arch(config.arch).build(config, input_size)
    if config.attention:
        core = HistoryAttention(core, config.attention)
    return core


def build_model(config: ModelConfig) -> LanguageModel:
    """A freshly initialised language model for ``config``."""
    return LanguageModel(config)
