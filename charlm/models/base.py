"""The language model every architecture shares: embed -> core -> head.

::

    ids (B,T) --Embedding--> (B,T,E) --dropout--> core --> (B,T,H) --dropout--> [proj H->E] --head--> logits (B,T,V)
                                                   ^  |
                                          state ---+  +--> new state (carried across TBPTT windows)

The head is a Linear (``--softmax full``) or an :class:`~charlm.models.adaptive.AdaptiveHead`; its
seam is :meth:`LanguageModel.logits_from` (logits whose softmax is the model's distribution: the
adaptive head's are its exact log-probabilities) and :meth:`LanguageModel.loss_from` (the training
loss: the adaptive head's cheap cluster loss). Readers never ask which head a model has.

A ``--direction both`` model is a :class:`BidirectionalLM`: two LanguageModels, one reading the
stream forward and one reading it reversed, sharing the embedding (ELMo). Its ``forward`` is the
forward LM's, so scoring and evaluation treat it as a forward model; the loss that trains both halves
lives in :mod:`charlm.training.loss`.

A *core* is any ``nn.Module`` with ``forward(x (B,T,E), state | None) -> (y (B,T,H), state)`` and an
``output_size`` attribute; cores are looked up by name in :mod:`charlm.models` (the ``--arch``
registry). The loss lives outside the model so training, scoring and sampling share one forward.
A state is a tensor or a (nested) tuple of tensors; :func:`charlm.models.state.map_state` walks it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from charlm.models.adaptive import AdaptiveHead
from charlm.models.attention import HistoryAttention
from charlm.models.config import ModelConfig, State
from charlm.models.dropout import LockedDropout, embedding_dropout
from charlm.models.options import validate_model
from charlm.models.registry import get_arch
from charlm.models.stack import output_size
from charlm.models.start import FittedStart, StartState, batch_dims, run_with_resets, zeros_like_state


class LanguageModel(nn.Module):
    """``(ids (B,T), state) -> (logits (B,T,V), state)`` for any registered core."""

    def __init__(self, config: ModelConfig, embed: nn.Embedding | None = None) -> None:
        """``embed``: share this embedding (the backward half of a :class:`BidirectionalLM`)."""
        super().__init__()
        validate_model(config)
        self.config = config
        self.embed = embed if embed is not None else nn.Embedding(config.vocab_size, config.embed)
        self.drop = LockedDropout(config.dropout) if config.locked_dropout else nn.Dropout(config.dropout)
        self.core = build_core(config, config.embed)
        self.proj, self.head = self._head(output_size(self.core))
        # issue 13: a learned start state (models/start.py); absent in older models, which start from zeros
        self.start: StartState | FittedStart | None = None
        if config.start_state == "learned":
            self.start = StartState(config.embed)
        elif config.start_state == "fitted":  # zeros until fitted at the end of training (training/start_fit.py)
            self.start = FittedStart(self.core, config.embed)
        self._state_dims: list[int] | None = None

    def _head(self, out: int) -> tuple[nn.Module | None, nn.Linear | AdaptiveHead]:
        config = self.config
        # Tied weights share the (V,E) matrix, so a hidden state of another width is projected to E.
        proj = nn.Linear(out, config.embed) if config.tie_weights and out != config.embed else None
        dim = config.embed if config.tie_weights else out
        if config.softmax == "adaptive":  # tied: its clusters read the embedding's rows (models/adaptive.py)
            return proj, AdaptiveHead(dim, config.vocab_size, config.cutoffs, config.tie_weights)
        head = nn.Linear(dim, config.vocab_size)
        if config.tie_weights:
            head.weight = self.embed.weight
        return proj, head

    def _embed(self, ids: Tensor) -> Tensor:
        weight = embedding_dropout(self.embed.weight, self.config.dropoute, self.training)  # (V,E)
        return self.drop(nn.functional.embedding(ids, weight))  # (B,T,E)

    def features(self, ids: Tensor, state: State = None, resets: Tensor | None = None) -> tuple[Tensor, State]:
        """The vectors the head reads, ``(B,T,D)`` (after dropout and any tied-weight projection).

        ``state=None`` is the start of a line (the start state). ``resets (B,T)``, when given, marks
        steps whose incoming state is the start state again, that row only (``--reset-at-eos``,
        :mod:`charlm.models.start`); without it the core runs in one call, as it always has.
        """
        if state is None:
            state = self.start_state(ids.size(0))
        if resets is None:
            y, state = self.core(self._embed(ids), state)  # (B,T,H)
        else:
            if self._state_dims is None:
                self._state_dims = batch_dims(self.core, self.config.embed, self.device)
            y, state = run_with_resets(self.core, self._embed(ids), state, resets, self._fresh, self._state_dims)
        y = self.drop(y)
        if self.proj is not None:
            y = self.proj(y)  # (B,T,E)
        return y, state

    def logits_from(self, y: Tensor) -> Tensor:
        """Logits ``(..,V)`` from :meth:`features` ``(..,D)``: ``forward`` is ``logits_from(features(...))``.

        Their softmax is the model's next-token distribution; an adaptive head returns its exact
        log-probabilities over the whole vocabulary (already normalised).
        """
        if isinstance(self.head, AdaptiveHead):
            return self.head.log_prob(y, self.embed.weight if self.config.tie_weights else None)
        return self.head(y)

    def log_probs(self, y: Tensor) -> Tensor:
        """The full next-token log-distribution ``(..,V)`` float32 from :meth:`features`."""
        return F.log_softmax(self.logits_from(y).float(), dim=-1)

    def loss_from(self, y: Tensor, targets: Tensor) -> Tensor:
        """Mean training loss (nats/token) of ``targets (B,T)`` from features ``y (B,T,D)``.

        The full head's cross-entropy; the adaptive head's cluster loss, which computes each tail
        only for its own tokens (the same value as the full distribution's, at a fraction of the cost).
        """
        if isinstance(self.head, AdaptiveHead):
            return self.head.loss(y, targets, self.embed.weight if self.config.tie_weights else None)
        return F.cross_entropy(self.head(y).float().flatten(0, 1), targets.flatten())

    def forward(
        self, ids: Tensor, state: State = None, resets: Tensor | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """``(logits (B,T,V), state)``; with ``targets (B,T)``, ``(mean training loss, state)`` (:meth:`loss_from`)."""
        y, state = self.features(ids, state, resets)  # (B,T,D)
        if targets is not None:
            return self.loss_from(y, targets), state  # () the head's cheap training loss
        return self.logits_from(y), state  # (B,T,V)

    def start_state(self, batch: int) -> State:
        """The state every line starts from: None (zeros, for the core to fill in) or the learned one."""
        return None if self.start is None else self.start(self.core, batch)

    def _fresh(self, like: State, batch: int) -> State:
        return zeros_like_state(like) if self.start is None else self.start(self.core, batch)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device


class BidirectionalLM(nn.Module):
    """A ``--direction both`` model: a forward and a backward LanguageModel sharing one embedding.

    ``backward_lm`` reads the stream reversed (its ids are flipped by the caller). Called like a
    LanguageModel it is the forward half, so every forward-only reader (eval, cache, features) works.
    The halves are built forward first, then backward (the embedding once), so a seed gives the
    same initial weights, in the same parameter order, as the pre-wrapper model (core_bwd, ...).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.forward_lm = LanguageModel(config)
        self.backward_lm = LanguageModel(config, embed=self.forward_lm.embed)

    def forward(
        self, ids: Tensor, state: State = None, resets: Tensor | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, State]:
        return self.forward_lm(ids, state, resets, targets)  # (B,T,V), or the forward half's loss

    def features(self, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
        return self.forward_lm.features(ids, state)  # (B,T,D)

    def logits_from(self, y: Tensor) -> Tensor:
        return self.forward_lm.logits_from(y)  # (B,T,V)

    def log_probs(self, y: Tensor) -> Tensor:
        return self.forward_lm.log_probs(y)  # (B,T,V)

    @property
    def embed(self) -> nn.Embedding:
        return self.forward_lm.embed

    def num_parameters(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())

    @property
    def device(self) -> torch.device:
        return self.forward_lm.device


AnyLM = LanguageModel | BidirectionalLM


def build_core(config: ModelConfig, input_size: int) -> nn.Module:
    """The core registered under ``config.arch``, wrapped in history attention when ``config.attention``."""
    core = get_arch(config.arch).build(config, input_size)
    if config.attention:
        core = HistoryAttention(core, config.attention)
    return core


def build_model(config: ModelConfig) -> AnyLM:
    """A freshly initialised language model for ``config`` (a :class:`BidirectionalLM` for direction both)."""
    if config.direction == "both":
        validate_model(config)
        return BidirectionalLM(config)
    return LanguageModel(config)
