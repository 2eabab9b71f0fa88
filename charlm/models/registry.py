"""The ``--arch`` registry: each architecture's name, what builds it, and what it supports.

Torch-free, so ``charlm --help`` lists the names and a config is validated before any import of
torch. A new architecture is one core module plus one :class:`ArchSpec` line here; code asks the
spec what an architecture can do (``fused``, ``weight_drop``) instead of comparing names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from charlm.errors import BadOption
from charlm.models.config import ModelConfig


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: ``factory`` is ``"module:function"`` returning a core for ``(config, input_size)``."""

    name: str
    factory: str
    summary: str
    fused: bool = False  # torch's fused kernel; the fast sampling stepper runs it
    weight_drop: bool = False  # --wdrop (DropConnect on hidden-to-hidden weights) is supported

    def build(self, config: ModelConfig, input_size: int) -> Any:
        module, function = self.factory.split(":")
        make: Callable[[ModelConfig, int], Any] = getattr(importlib.import_module(module), function)
        return make(config, input_size)


_F, _C, _V = "charlm.models.fused", "charlm.models.cells", "charlm.models.lstm_variants"
ARCHS: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec("lstm", f"{_F}:lstm", "LSTM, torch's fused kernel", fused=True, weight_drop=True),
        ArchSpec("gru", f"{_F}:gru", "GRU, torch's fused kernel", fused=True),
        ArchSpec("rnn", f"{_F}:rnn_tanh", "Elman RNN (tanh), fused", fused=True),
        ArchSpec("rnn-relu", f"{_F}:rnn_relu", "Elman RNN (ReLU), fused", fused=True),
        ArchSpec("rnn-cell", f"{_C}:rnn_cell", "hand-written Elman RNN (tanh)"),
        ArchSpec("rnn-relu-cell", f"{_C}:rnn_relu_cell", "hand-written Elman RNN (ReLU)"),
        ArchSpec("lstm-cell", f"{_C}:lstm_cell", "hand-written LSTM"),
        ArchSpec("gru-cell", f"{_C}:gru_cell", "hand-written GRU"),
        ArchSpec("lstm-peephole", f"{_V}:lstm_peephole", "LSTM with peephole connections"),
        ArchSpec("lstm-cifg", f"{_V}:lstm_cifg", "LSTM with coupled input-forget gate"),
        ArchSpec("lstm-layernorm", f"{_V}:lstm_layernorm", "layer-normalised LSTM"),
        ArchSpec("clockwork", "charlm.models.clockwork:clockwork", "Clockwork RNN (Koutnik et al. 2014)"),
        ArchSpec("lstm-mogrifier", "charlm.models.mogrifier:lstm_mogrifier", "Mogrifier LSTM (Melis et al. 2020)"),
        ArchSpec("mingru", "charlm.models.minrnn:mingru", "minGRU blocks, parallel scan (Feng et al. 2024)"),
        ArchSpec("minlstm", "charlm.models.minrnn:minlstm", "minLSTM blocks, parallel scan (Feng et al. 2024)"),
    )
}


def arch_help() -> str:
    """The ``--arch`` help text, generated from the registry."""
    fused = ", ".join(n for n, s in ARCHS.items() if s.fused)
    other = ", ".join(n for n, s in ARCHS.items() if not s.fused)
    return f"Architecture: {fused} (fused); {other} (hand-written or parallel-scan)."


def get_arch(name: str) -> ArchSpec:
    spec = ARCHS.get(name)
    if spec is None:
        raise BadOption(f"unknown architecture {name!r}; choose one of {', '.join(ARCHS)}")
    return spec
