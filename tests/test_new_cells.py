"""The Mogrifier LSTM and the minGRU/minLSTM family: known answers against the cells they extend."""

from __future__ import annotations

import pytest
import torch

from charlm.models.base import build_model
from charlm.models.cells import LSTMCell
from charlm.models.config import ModelConfig
from charlm.models.minrnn import MinRNN, scan
from charlm.models.mogrifier import MogrifierLSTMCell


def test_mogrifier_with_zero_rounds_is_the_lstm_cell() -> None:
    torch.manual_seed(0)
    plain, mog = LSTMCell(6, 5), MogrifierLSTMCell(6, 5, rounds=0)
    mog.load_state_dict(plain.state_dict())
    x = torch.randn(3, 7, 6)
    assert torch.equal(plain(x)[0], mog(x)[0])


@pytest.mark.parametrize("rank", [0, 2])
def test_mogrifier_rounds_gate_x_and_h_alternately(rank: int) -> None:
    torch.manual_seed(1)
    cell = MogrifierLSTMCell(4, 3, rounds=3, rank=rank)
    x, h = torch.randn(2, 4), torch.randn(2, 3)
    q0, r0, q1 = cell.q[0], cell.r[0], cell.q[1]
    x1 = 2 * torch.sigmoid(q0(h)) * x
    h1 = 2 * torch.sigmoid(r0(x1)) * h
    x2 = 2 * torch.sigmoid(q1(h1)) * x1
    got_x, got_h = cell.mogrify(x, h)
    assert torch.allclose(got_x, x2) and torch.allclose(got_h, h1)


def test_mogrifier_window_chains_like_one_long_window() -> None:
    torch.manual_seed(2)
    cell = MogrifierLSTMCell(4, 3, rounds=4)
    x = torch.randn(2, 10, 4)
    whole, _ = cell(x)
    first, state = cell(x[:, :6])
    second, _ = cell(x[:, 6:], state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_parallel_scan_equals_the_step_loop(kind: str) -> None:
    torch.manual_seed(3)
    layer = MinRNN(5, 4, kind).double()
    x = torch.randn(3, 40, 5, dtype=torch.float64) * 3
    y, last = layer(x)
    h = None
    steps = []
    for t in range(x.size(1)):
        h = layer.step(x[:, t], h)
        steps.append(h)
    assert torch.allclose(y, torch.stack(steps, dim=1), rtol=1e-5, atol=1e-7)
    assert torch.allclose(last, steps[-1])


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_scan_windows_chain_exactly(kind: str) -> None:
    torch.manual_seed(4)
    layer = MinRNN(5, 4, kind)
    x = torch.randn(2, 30, 5)
    whole, _ = layer(x)
    first, state = layer(x[:, :11])
    second, _ = layer(x[:, 11:], state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_scan_under_bf16_autocast_stays_float32(kind: str) -> None:
    """Training on CPU runs under bf16 autocast: the scan must not (its log-sums over a 128-token window
    lose every digit in bf16, and training stalled at worse than unigram bits/char)."""
    torch.manual_seed(6)
    layer = MinRNN(16, 16, kind)
    x = torch.randn(4, 128, 16) * 2
    exact, _ = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = layer(x)
    assert mixed.dtype == torch.float32
    assert torch.allclose(mixed, exact, rtol=0.05, atol=0.05)  # the gates' matmul alone is in bf16


def test_scan_matches_the_recurrence_by_hand() -> None:
    a = torch.tensor([[[0.5], [0.25], [1.0]]])  # (1,3,1)
    b = torch.tensor([[[1.0], [2.0], [0.5]]])
    h0 = torch.tensor([[4.0]])
    got = scan(a.log(), b.log(), h0)[0, :, 0]
    assert torch.allclose(got, torch.tensor([3.0, 2.75, 3.25]))  # 0.5*4+1, 0.25*3+2, 1*2.75+0.5


@pytest.mark.parametrize("arch", ["mingru", "minlstm", "lstm-mogrifier"])
def test_new_archs_train_a_step_and_chain_windows(arch: str) -> None:
    torch.manual_seed(5)
    model = build_model(ModelConfig(vocab_size=11, arch=arch, layers=2, hidden=8, embed=6, mogrify_rounds=3))
    ids = torch.randint(0, 11, (2, 12))
    logits, _ = model(ids)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids.flatten()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        whole, _ = model(ids)
        first, state = model(ids[:, :5])
        rest = [first]
        for t in range(5, 12):  # one token at a time, as sampling does
            step, state = model(ids[:, t : t + 1], state)
            rest.append(step)
    assert torch.allclose(torch.cat(rest, dim=1), whole, rtol=1e-4, atol=1e-5)
