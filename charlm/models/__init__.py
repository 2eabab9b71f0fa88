"""The ``--arch`` registry: a name maps to a function ``(ModelConfig, input_size) -> core``.

A new architecture is one module with a core class plus one line here; nothing else in charlm
switches on the architecture name.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from charlm.errors import CharlmError
from charlm.models import rnn
from charlm.models.base import LanguageModel, ModelConfig, State, detach_state, map_state

CoreFactory = Callable[[ModelConfig, int], nn.Module]

ARCHS: dict[str, CoreFactory] = {
    "lstm": rnn.lstm,
    "gru": rnn.gru,
    "rnn": rnn.rnn_tanh,
    "rnn-relu": rnn.rnn_relu,
}

__all__ = ["ARCHS", "LanguageModel", "ModelConfig", "State", "build_core", "build_model", "detach_state", "map_state"]


def build_core(config: ModelConfig, input_size: int) -> nn.Module:
    """Instantiate the core registered under ``config.arch``."""
    factory = ARCHS.get(config.arch)
    if factory is None:
        raise CharlmError(f"unknown architecture {config.arch!r}; choose one of {', '.join(ARCHS)}")
    return factory(config, input_size)


def build_model(config: ModelConfig) -> LanguageModel:
    """A freshly initialised language model for ``config``."""
    return LanguageModel(config)
