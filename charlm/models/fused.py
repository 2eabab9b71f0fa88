"""Fused recurrent cores on torch's nn.RNN / nn.LSTM / nn.GRU (cuDNN on GPU, oneDNN on CPU).

States are torch's own: ``h (L,B,H)`` for RNN and GRU, ``(h, c)`` for LSTM. ``None`` means zeros.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from charlm.models.config import ModelConfig, State
from charlm.models.dropout import awd_lstm, between_layers
from charlm.models.stack import FusedLayer, LayerStack


class FusedCore(nn.Module):
    """A stack of ``layers`` recurrent layers run by one fused torch module."""

    def __init__(self, rnn: nn.RNNBase) -> None:
        super().__init__()
        self.rnn = rnn
        self.output_size = rnn.hidden_size

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        y, state = self.rnn(x, state)  # (B,T,H), state
        return y, state


def _between_layers(config: ModelConfig) -> float:
    return config.dropout if config.layers > 1 else 0.0


def _per_layer(config: ModelConfig, input_size: int, make: Callable[[int, int], nn.RNNBase]) -> LayerStack:
    """One fused module per layer, so the shared stack can add residuals or locked dropout between them."""
    sizes = [input_size] + [config.hidden] * (config.layers - 1)
    return LayerStack(
        [FusedLayer(make(size, config.hidden)) for size in sizes],
        config.hidden,
        between_layers(config),
        config.residual,
    )


def _needs_stack(config: ModelConfig) -> bool:
    return config.residual or config.locked_dropout


def lstm(config: ModelConfig, input_size: int) -> nn.Module:
    """Long short-term memory (Hochreiter & Schmidhuber 1997), torch's fused kernel (+ AWD weight drop)."""
    if config.wdrop or _needs_stack(config):
        return awd_lstm(config, input_size)
    return FusedCore(
        nn.LSTM(input_size, config.hidden, config.layers, batch_first=True, dropout=_between_layers(config))
    )


def gru(config: ModelConfig, input_size: int) -> nn.Module:
    """Gated recurrent unit (Cho et al. 2014), torch's fused kernel."""
    if _needs_stack(config):
        return _per_layer(config, input_size, lambda i, h: nn.GRU(i, h, batch_first=True))
    return FusedCore(
        nn.GRU(input_size, config.hidden, config.layers, batch_first=True, dropout=_between_layers(config))
    )


def rnn_tanh(config: ModelConfig, input_size: int) -> nn.Module:
    """Elman RNN with tanh, torch's fused kernel."""
    if _needs_stack(config):
        return _per_layer(config, input_size, lambda i, h: nn.RNN(i, h, nonlinearity="tanh", batch_first=True))
    return FusedCore(
        nn.RNN(
            input_size,
            config.hidden,
            config.layers,
            nonlinearity="tanh",
            batch_first=True,
            dropout=_between_layers(config),
        )
    )


def rnn_relu(config: ModelConfig, input_size: int) -> nn.Module:
    """Elman RNN with ReLU, torch's fused kernel."""
    if _needs_stack(config):
        return _per_layer(config, input_size, lambda i, h: nn.RNN(i, h, nonlinearity="relu", batch_first=True))
    return FusedCore(
        nn.RNN(
            input_size,
            config.hidden,
            config.layers,
            nonlinearity="relu",
            batch_first=True,
            dropout=_between_layers(config),
        )
    )
