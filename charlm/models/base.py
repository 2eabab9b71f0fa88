"""The language model every architecture shares: embed -> core -> head.

::

    ids (B,T) --Embedding--> (B,T,E) --dropout--> core --> (B,T,H) --dropout--> [proj H->E] --Linear--> logits (B,T,V)
                                                   ^  |
                                          state ---+  +--> new state (carried across TBPTT windows)

A *core* is any ``nn.Module`` with ``forward(x (B,T,E), state | None) -> (y (B,T,H), state)`` and an
``output_size`` attribute; cores are looked up by name in :mod:`charlm.models` (the ``--arch``
registry). The loss lives outside the model so training, scoring and sampling share one forward.
A state is a tensor or a (nested) tuple of tensors; :func:`map_state` walks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

State = Any  # None | Tensor | tuple[State, ...]


def map_state(fn: Callable[[Tensor], Tensor], state: State) -> State:
    """Apply ``fn`` to every tensor in a (nested tuple/list) recurrent state."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s) for s in state)
    if isinstance(state, dict):
        return {k: map_state(fn, v) for k, v in state.items()}
    raise TypeError(f"unsupported state type {type(state).__name__}")


def detach_state(state: State) -> State:
    """Cut the graph at a TBPTT window boundary, keeping the values."""
    return map_state(lambda t: t.detach(), state)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's shapes (stored in config.json)."""

    vocab_size: int
    arch: str = "lstm"
    layers: int = 2
    hidden: int = 512
    embed: int = 128
    dropout: float = 0.0
    tie_weights: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})


class LanguageModel(nn.Module):
    """``(ids (B,T), state) -> (logits (B,T,V), state)`` for any registered core."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        from charlm.models import build_core  # registry imports this module

        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.drop = nn.Dropout(config.dropout)
        self.core = build_core(config, config.embed)
        out = self.core.output_size
        # Tied weights share the (V,E) matrix, so a hidden state of another width is projected to E.
        self.proj = nn.Linear(out, config.embed) if config.tie_weights and out != config.embed else None
        self.head = nn.Linear(config.embed if config.tie_weights else out, config.vocab_size)
        if config.tie_weights:
            self.head.weight = self.embed.weight

    def forward(self, ids: Tensor, state: State = None) -> tuple[Tensor, State]:
        x = self.drop(self.embed(ids))  # (B,T,E)
        y, state = self.core(x, state)  # (B,T,H)
        y = self.drop(y)
        if self.proj is not None:
            y = self.proj(y)  # (B,T,E)
        return self.head(y), state  # (B,T,V)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device
