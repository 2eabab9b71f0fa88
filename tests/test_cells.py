"""Hand-written cells equal torch's fused modules after copying weights; every variant trains a step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from charlm.models.base import build_model
from charlm.models.cells import GRUCell, LSTMCell, RNNCell
from charlm.models.clockwork import ClockworkCell
from charlm.models.config import ModelConfig
from charlm.models.lstm_variants import CIFGLSTMCell, LayerNormLSTMCell, PeepholeLSTMCell
from charlm.models.registry import ARCHS

CELL_VS_TORCH = [
    (lambda: RNNCell(5, 7, "tanh"), lambda: nn.RNN(5, 7, nonlinearity="tanh", batch_first=True)),
    (lambda: RNNCell(5, 7, "relu"), lambda: nn.RNN(5, 7, nonlinearity="relu", batch_first=True)),
    (lambda: LSTMCell(5, 7), lambda: nn.LSTM(5, 7, batch_first=True)),
    (lambda: GRUCell(5, 7), lambda: nn.GRU(5, 7, batch_first=True)),
]


@pytest.mark.parametrize(("make_cell", "make_torch"), CELL_VS_TORCH, ids=["rnn-tanh", "rnn-relu", "lstm", "gru"])
def test_cell_equals_torch_after_copying_weights(make_cell, make_torch) -> None:
    torch.manual_seed(0)
    cell, ref = make_cell(), make_torch()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(ref, f"{name}_l0"))
    x = torch.randn(3, 11, 5)
    y_ref, state_ref = ref(x)
    y, state = cell(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    final = state[0] if isinstance(state, tuple) else state
    final_ref = state_ref[0] if isinstance(state_ref, tuple) else state_ref
    torch.testing.assert_close(final, final_ref[0], rtol=1e-5, atol=1e-5)
    # gradients agree too
    y.square().sum().backward()
    y_ref.square().sum().backward()
    torch.testing.assert_close(cell.weight_hh.grad, ref.weight_hh_l0.grad, rtol=1e-4, atol=1e-5)


def test_cifg_input_gate_is_one_minus_forget() -> None:
    torch.manual_seed(0)
    cell = CIFGLSTMCell(4, 6)
    xp = torch.randn(2, 18)
    c0 = torch.randn(2, 6)
    _, (_, c) = cell.step(xp, (torch.zeros(2, 6), c0))
    f, g, _ = (xp + cell.bias_hh).chunk(3, dim=-1)
    expected = torch.sigmoid(f) * c0 + (1 - torch.sigmoid(f)) * torch.tanh(g)
    torch.testing.assert_close(c, expected)


def test_peephole_with_zero_peepholes_is_plain_lstm() -> None:
    torch.manual_seed(0)
    peep, plain = PeepholeLSTMCell(4, 6), LSTMCell(4, 6)
    plain.load_state_dict({k: v for k, v in peep.state_dict().items() if k != "peephole"})
    x = torch.randn(2, 9, 4)
    assert not torch.allclose(peep(x)[0], plain(x)[0])
    with torch.no_grad():
        peep.peephole.zero_()
    torch.testing.assert_close(peep(x)[0], plain(x)[0])


def test_layernorm_lstm_normalises_its_preactivations() -> None:
    torch.manual_seed(0)
    cell = LayerNormLSTMCell(4, 6)
    xp = cell.project(torch.randn(2, 3, 4) * 100)  # huge inputs: layer norm keeps the gates in range
    assert xp.abs().max() < 10


def test_clockwork_modules_update_at_their_periods() -> None:
    torch.manual_seed(0)
    cell = ClockworkCell(3, 8, modules=4)  # 2 units per module, periods 1, 2, 4, 8
    y, (_, t) = cell(torch.randn(1, 9, 3))
    changed = y[0, 1:] != y[0, :-1]  # (8 steps, 8 units)
    for step in range(1, 9):
        for unit in range(8):
            period = 2 ** (unit // 2)
            assert bool(changed[step - 1, unit]) == (step % period == 0)
    assert int(t[0]) == 9  # the clock is carried in the state


def test_clockwork_slow_modules_ignore_fast_ones() -> None:
    cell = ClockworkCell(3, 8, modules=4)
    assert cell.mask[0].tolist() == [1.0] * 8  # fastest module reads everything
    assert cell.mask[7].tolist() == [0.0] * 6 + [1.0] * 2  # slowest reads itself only


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_residual_stack_runs_and_learns(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=9, arch=arch, layers=3, hidden=12, embed=12, residual=True))
    ids = torch.randint(0, 9, (4, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        logits, _ = model(ids[:, :-1])
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] - 0.1


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_parameter_is_used(arch: str) -> None:
    """No dead weights: each parameter gets a gradient (lstm-layernorm once carried an unused bias_hh)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=9, arch=arch, layers=2, hidden=8, embed=8))
    logits, _ = model(torch.randint(0, 9, (2, 9)))
    logits.square().mean().backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not unused


def test_residual_adds_the_layer_input() -> None:
    torch.manual_seed(0)
    plain = build_model(ModelConfig(vocab_size=9, arch="lstm-cell", layers=2, hidden=8, embed=8)).eval()
    res = build_model(ModelConfig(vocab_size=9, arch="lstm-cell", layers=2, hidden=8, embed=8, residual=True)).eval()
    res.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 8)
    y_plain, _ = plain.core(x)
    y_res, _ = res.core(x)
    first, _ = plain.core.layers[0](x)
    second, _ = plain.core.layers[1](x + first)
    torch.testing.assert_close(y_res, x + first + second)
    assert not torch.allclose(y_plain, y_res)
