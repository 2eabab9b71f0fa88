"""Fused recurrent cores on torch's nn.RNN / nn.LSTM / nn.GRU (cuDNN on GPU, oneDNN on CPU).

States are torch's own: ``h (L,B,H)`` for RNN and GRU, ``(h, c)`` for LSTM. ``None`` means zeros.
"""

from __future__ import annotations

from torch import Tensor, nn

from charlm.models.base import ModelConfig, State


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


def lstm(config: ModelConfig, input_size: int) -> FusedCore:
    """Long short-term memory (Hochreiter & Schmidhuber 1997), torch's fused kernel."""
    return FusedCore(nn.LSTM(input_size, config.hidden, config.layers, batch_first=True, dropout=_between_layers(config)))


def gru(config: ModelConfig, input_size: int) -> FusedCore:
    """Gated recurrent unit (Cho et al. 2014), torch's fused kernel."""
    return FusedCore(nn.GRU(input_size, config.hidden, config.layers, batch_first=True, dropout=_between_layers(config)))


def rnn_tanh(config: ModelConfig, input_size: int) -> FusedCore:
    """Elman RNN with tanh, torch's fused kernel."""
    return FusedCore(
        nn.RNN(input_size, config.hidden, config.layers, nonlinearity="tanh", batch_first=True,
               dropout=_between_layers(config))
    )


def rnn_relu(config: ModelConfig, input_size: int) -> FusedCore:
    """Elman RNN with ReLU, torch's fused kernel."""
    return FusedCore(
        nn.RNN(input_size, config.hidden, config.layers, nonlinearity="relu", batch_first=True,
               dropout=_between_layers(config))
    )
