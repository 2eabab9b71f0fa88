"""The ``--arch`` registry: a name maps to a function ``(ModelConfig, input_size) -> core``.

A new architecture is one module with a core class plus one line here; nothing else in charlm
switches on the architecture name.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from charlm.errors import CharlmError
from charlm.models import cells, clockwork, lstm_variants, rnn
from charlm.models.base import LanguageModel, ModelConfig, State, detach_state, map_state

CoreFactory = Callable[[ModelConfig, int], nn.Module]

ARCHS: dict[str, CoreFactory] = {
    "lstm": rnn.lstm,
    "gru": rnn.gru,
    "rnn": rnn.rnn_tanh,
    "rnn-relu": rnn.rnn_relu,
    "rnn-cell": cells.rnn_cell,
    "rnn-relu-cell": cells.rnn_relu_cell,
    "lstm-cell": cells.lstm_cell,
    "gru-cell": cells.gru_cell,
    "lstm-peephole": lstm_variants.lstm_peephole,
    "lstm-cifg": lstm_variants.lstm_cifg,
    "lstm-layernorm": lstm_variants.lstm_layernorm,
    "clockwork": clockwork.clockwork,
}

__all__ = ["ARCHS", "LanguageModel", "ModelConfig", "State", "build_core", "build_model", "detach_state", "map_state"]


def build_core(config: ModelConfig, input_size: int) -> nn.Module:
    """Instantiate the core registered under ``config.arch``."""
    factory = ARCHS.get(config.arch)
    if factory is None:
        raise CharlmError(f"unknown architecture {config.arch!r}; choose one of {', '.join(ARCHS)}")
    _check(config)
    core = factory(config, input_size)
    if config.attention:
        from charlm.models.attention import HistoryAttention

        core = HistoryAttention(core, config.attention)
    return core


def _check(config: ModelConfig) -> None:
    """Model options that cannot work together or are out of range: one clear line."""
    from charlm.models.regularization import check_regularization

    check_regularization(config)
    if config.direction not in ("forward", "both"):
        raise CharlmError(f"unknown --direction {config.direction!r}; use forward or both")
    if config.attention < 0:
        raise CharlmError(f"--attention must be >= 0 (got {config.attention}); 0 turns it off")
    if config.clock_modules < 1:
        raise CharlmError(f"--clock-modules must be at least 1 (got {config.clock_modules})")


def build_model(config: ModelConfig) -> LanguageModel:
    """A freshly initialised language model for ``config``."""
    return LanguageModel(config)
