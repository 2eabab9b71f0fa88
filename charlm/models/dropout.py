"""AWD-LSTM regularisation (Merity, Keskar & Socher 2018, "Regularizing and Optimizing LSTM Language Models").

- **Weight drop** (DropConnect, Wan et al. 2013) on the hidden-to-hidden matrices of the fused LSTM:
  one mask on ``W_hh`` per forward pass, so every time step of a window sees the same dropped matrix
  and torch's fused kernel still runs (``--wdrop``).
- **Locked (variational) dropout** (Gal & Ghahramani 2016): one mask per sequence, repeated over time,
  on the embeddings, between layers and before the head (``--locked-dropout``; rate ``--dropout``).
- **Embedding dropout**: whole rows of the embedding matrix (all occurrences of a token) dropped and
  the rest rescaled (``--dropoute``).
- Tied input and output embeddings are ``--tie-weights`` (:class:`charlm.models.base.LanguageModel`).
"""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn
from torch.func import functional_call

from charlm.models.config import ModelConfig, State
from charlm.models.stack import LayerStack


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by all time steps of ``x (B,T,D)``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1.0 - self.p) / (1.0 - self.p)  # (B,1,D)
        return x * mask


def embedding_dropout(weight: Tensor, p: float, training: bool) -> Tensor:
    """The embedding matrix ``(V,E)`` with whole rows zeroed with probability ``p`` (rest scaled by 1/(1-p))."""
    if not training or p == 0.0:
        return weight
    keep = weight.new_empty(weight.size(0), 1).bernoulli_(1.0 - p) / (1.0 - p)  # (V,1)
    return weight * keep


def between_layers(config: ModelConfig) -> nn.Module:
    """The dropout applied to the input of stacked layers 1..L-1 (locked when ``--locked-dropout``)."""
    p = config.dropout if config.layers > 1 else 0.0
    return LockedDropout(p) if config.locked_dropout else nn.Dropout(p)


class WeightDropLSTM(nn.Module):
    """One fused ``nn.LSTM`` layer whose ``W_hh`` gets a fresh DropConnect mask on each forward pass."""

    def __init__(self, input_size: int, hidden: int, wdrop: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden, batch_first=True)
        self.wdrop = wdrop

    def forward(self, x: Tensor, state: State = None) -> tuple[Tensor, State]:
        if not self.training or self.wdrop == 0.0:
            return self.rnn(x, state)  # (B,T,H), (h, c)
        weight = cast(Tensor, self.rnn.weight_hh_l0)  # (4H,H)
        dropped = nn.functional.dropout(weight, self.wdrop, training=True)  # (4H,H)
        return functional_call(self.rnn, {"weight_hh_l0": dropped}, (x, state))


def awd_lstm(config: ModelConfig, input_size: int) -> LayerStack:
    """A stack of weight-dropped fused LSTM layers with (locked) dropout between them."""
    sizes = [input_size] + [config.hidden] * (config.layers - 1)
    layers = [WeightDropLSTM(size, config.hidden, config.wdrop) for size in sizes]
    return LayerStack(layers, config.hidden, between_layers(config), config.residual)


__all__ = ["LockedDropout", "WeightDropLSTM", "awd_lstm", "between_layers", "embedding_dropout"]
