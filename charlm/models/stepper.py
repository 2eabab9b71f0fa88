"""A fast one-token-at-a-time forward for sampling: the recurrent cell math on the fused weights.

Calling ``nn.LSTM`` once per generated token costs milliseconds on CPU (oneDNN builds its
primitive on every call), so batch-1 sampling crawled at ~160 tokens/s. :class:`Stepper` reads
the same parameters and does one step with a few ``addmm`` calls instead::

    layer 0:  gates = table[id] + h0 @ W_hh0^T        table (V, G) = embed @ W_ih0^T + b_ih0 + b_hh0
    layer l:  gates = [x, h_l] @ [W_ih_l, W_hh_l]^T + b_l
    head:     logits = model.logits_from(proj(h_top))   (the full or the adaptive head)

``precision="bf16"`` keeps bf16 copies of the recurrent weight matrices and multiplies in bf16
(products rounded to bf16, then biases and the cell math in fp32): on CPUs with native bf16 the
per-step products run ~3x faster at large batches; the embedding table and the head stay fp32. It
also takes tanh as ``2 sigmoid(2x) - 1`` (within 2e-7 of torch.tanh, which is ~5x slower on CPU).

It takes and returns the model's own state layout (``(h, c)`` of ``(L,B,H)`` for LSTM, ``h`` for
GRU/RNN), so a state from a full ``model(context)`` call continues here seamlessly. Cores it does
not know (anything but the fused LSTM/GRU/RNN) fall back to ``model(ids[:, None], state)``.
The weights are snapshotted at construction: build a new stepper after changing the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from charlm.models.base import LanguageModel
from charlm.models.config import State
from charlm.models.fused import FusedCore
from charlm.runtime import autocast


@dataclass(frozen=True)
class _Layer:
    w_in: Tensor  # (G, E) input weights; unused for layer 0 (folded into the table)
    w_hh: Tensor  # (G, H)
    w_cat: Tensor  # (G, E + H) [W_ih, W_hh] for layers above 0
    bias: Tensor  # (G,) b_ih + b_hh (LSTM, RNN) or b_ih (GRU)
    b_hh: Tensor  # (G,) GRU keeps its hidden bias apart (it sits inside r * (...))


class Stepper:
    """``step(ids (B,), state) -> (logits (B,V), state)`` for an eval-mode :class:`LanguageModel`."""

    def __init__(self, model: LanguageModel, precision: str = "fp32") -> None:
        self.model, self.precision = model, precision
        self.tanh = _tanh_by_sigmoid if precision == "bf16" else torch.tanh
        # Only the plain embed -> fused core -> head model: any other core (or model extra) keeps its own forward.
        # On CUDA, cuDNN's per-call cost is small and this path's many tiny kernels are launch-bound
        # (H100, 2x512 batch 1: 2,347 chars/s here against 3,452 for nn.LSTM per call), so it is CPU-only.
        plain = (
            type(model.core) is FusedCore
            and not getattr(model.config, "attention", 0)
            and model.embed.weight.device.type == "cpu"
        )
        rnn = model.core.rnn if plain else None
        self.kind = _kind(rnn)
        if self.kind is None:
            return
        assert isinstance(rnn, nn.RNNBase)
        self.layers_n = rnn.num_layers
        with torch.no_grad():
            self.layers = [_layer(rnn, k, self.kind) for k in range(rnn.num_layers)]
            first = self.layers[0]
            # Embedding and layer-0 input projection folded into one lookup table.
            self.table = torch.addmm(first.bias, model.embed.weight, first.w_in.t())  # (V,G)
            if precision == "bf16":
                self.layers = [_lowered(layer) for layer in self.layers]

    @property
    def fused(self) -> bool:
        """Whether the fast cell path is used (False: the model's own forward per step)."""
        return self.kind is not None

    @torch.no_grad()
    def step(self, ids: Tensor, state: State) -> tuple[Tensor, State]:
        """Advance every row by one token ``ids (B,)``; returns ``(logits (B,V), new state)``."""
        if self.kind is None:
            with autocast(ids.device, self.precision):
                logits, state = self.model(ids[:, None], state)  # (B,1,V)
            return logits[:, 0], state
        batch = ids.size(0)
        hs, cs = _unpack(state, self.kind, self.layers_n, batch, self.table)
        x = self.table.index_select(0, ids)  # (B,G) layer-0 input gates
        new_h, new_c = [], []
        for k, layer in enumerate(self.layers):
            if k == 0:
                gates_x, gates_h = x, _linear(hs[0], layer.w_hh)  # (B,G)
            elif self.kind == "gru":
                gates_x, gates_h = _linear(x, layer.w_in, layer.bias), _linear(hs[k], layer.w_hh)
            else:
                gates_x, gates_h = _linear(torch.cat([x, hs[k]], 1), layer.w_cat, layer.bias), None
            h, c = _cell(self.kind, gates_x, gates_h, layer.b_hh, hs[k], cs[k] if cs else None, self.tanh)
            new_h.append(h)
            new_c.append(c)
            x = h  # (B,H)
        y = self.model.proj(x) if self.model.proj is not None else x
        logits = self.model.logits_from(y)  # (B,V)
        return logits, _pack(new_h, new_c, self.kind)


def _kind(rnn: object) -> str | None:
    if isinstance(rnn, nn.LSTM) and not rnn.bidirectional and not rnn.proj_size and rnn.bias and rnn.batch_first:
        return "lstm"
    if isinstance(rnn, nn.GRU) and not rnn.bidirectional and rnn.bias and rnn.batch_first:
        return "gru"
    if type(rnn) is nn.RNN and not rnn.bidirectional and rnn.bias and rnn.batch_first:
        return "rnn-relu" if rnn.nonlinearity == "relu" else "rnn"
    return None


def _layer(rnn: nn.RNNBase, k: int, kind: str) -> _Layer:
    w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}").float(), getattr(rnn, f"weight_hh_l{k}").float()
    b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}").float(), getattr(rnn, f"bias_hh_l{k}").float()
    if kind == "lstm":  # torch's gate order i, f, g, o -> i, f, o, g: one sigmoid over 3H, one tanh over H
        w_ih, w_hh, b_ih, b_hh = (_ifog(t) for t in (w_ih, w_hh, b_ih, b_hh))
    bias = b_ih if kind == "gru" else b_ih + b_hh  # GRU adds b_hh to the hidden half (inside r * ...)
    return _Layer(
        w_in=w_ih.contiguous(),
        w_hh=w_hh.contiguous(),
        w_cat=torch.cat([w_ih, w_hh], 1).contiguous(),
        bias=bias.contiguous(),
        b_hh=b_hh.contiguous(),
    )


def _lowered(layer: _Layer) -> _Layer:
    """The layer with its matrices in bf16 (biases stay fp32)."""
    return replace(layer, w_in=layer.w_in.bfloat16(), w_hh=layer.w_hh.bfloat16(), w_cat=layer.w_cat.bfloat16())


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x (B,K) @ weight (N,K)^T (+ bias)`` in fp32: exactly the fp32 product, or a bf16 one widened."""
    if weight.dtype == torch.float32:
        return x @ weight.t() if bias is None else torch.addmm(bias, x, weight.t())  # (B,N)
    out = F.linear(x.to(weight.dtype), weight).float()  # (B,N)
    return out if bias is None else out + bias


def _ifog(t: Tensor) -> Tensor:
    i, f, g, o = t.chunk(4, 0)
    return torch.cat([i, f, o, g], 0)


def _tanh_by_sigmoid(x: Tensor) -> Tensor:
    return torch.sigmoid(x * 2).mul_(2).sub_(1)


def _cell(
    kind: str,
    gx: Tensor,
    gh: Tensor | None,
    b_hh: Tensor,
    h: Tensor,
    c: Tensor | None,
    tanh: Callable[[Tensor], Tensor] = torch.tanh,
) -> tuple[Tensor, Tensor | None]:
    """One cell update from input gates ``gx (B,G)`` and hidden gates ``gh (B,G)`` (None: already in gx)."""
    if kind == "lstm":
        gates = gx if gh is None else gx + gh  # (B,4H), reordered to i, f, o, g
        hidden = gates.size(1) // 4
        sig = torch.sigmoid(gates[:, : 3 * hidden])  # (B,3H)
        g = tanh(gates[:, 3 * hidden :])  # (B,H)
        assert c is not None
        c = torch.addcmul(sig[:, hidden : 2 * hidden] * c, sig[:, :hidden], g)  # f*c + i*g
        return sig[:, 2 * hidden :] * tanh(c), c
    if kind == "gru":
        assert gh is not None
        gh = gh + b_hh  # (B,3H), order r, z, n
        xr, xz, xn = gx.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = tanh(xn + r * hn)
        return n + z * (h - n), None  # (1-z)*n + z*h
    pre = gx if gh is None else gx + gh  # (B,H)
    return (torch.relu(pre) if kind == "rnn-relu" else tanh(pre)), None


def _unpack(state: State, kind: str, layers: int, batch: int, like: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Split the model's ``(L,B,H)`` state into per-layer ``(B,H)`` lists (zeros for None)."""
    if state is None:
        hidden = like.size(1) // {"lstm": 4, "gru": 3}.get(kind, 1)
        zeros = like.new_zeros(layers, batch, hidden)
        state = (zeros, zeros) if kind == "lstm" else zeros
    if kind == "lstm":
        h, c = state
        return list(h.float().unbind(0)), list(c.float().unbind(0))
    return list(state.float().unbind(0)), []


def _pack(hs: list[Tensor], cs: list[Tensor | None], kind: str) -> State:
    h = torch.stack(hs)  # (L,B,H)
    if kind == "lstm":
        return h, torch.stack([c for c in cs if c is not None])
    return h
