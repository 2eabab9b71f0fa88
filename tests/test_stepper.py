"""The per-step sampling path matches the model's own forward, token for token, for every fused core."""

from __future__ import annotations

import pytest
import torch

from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.models.registry import ARCHS
from charlm.models.stepper import Stepper

FUSED = sorted(name for name, spec in ARCHS.items() if spec.fused)  # the archs the fast stepper runs


@pytest.mark.parametrize("arch", FUSED)
@pytest.mark.parametrize("tie", [False, True])
def test_stepper_matches_forward(arch: str, tie: bool) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=23, arch=arch, layers=2, hidden=24, embed=8, tie_weights=tie)).eval()
    stepper = Stepper(model)
    assert stepper.fused
    ids = torch.randint(0, 23, (3, 7))  # (B,T)
    with torch.no_grad():
        want, want_state = model(ids)  # (B,T,V)
        _, state = model(ids[:, :2])  # a state from a full forward continues in the stepper
        got = []
        for t in range(2, 7):
            logits, state = stepper.step(ids[:, t], state)  # (B,V)
            got.append(logits)
    torch.testing.assert_close(torch.stack(got, 1), want[:, 2:], atol=1e-5, rtol=1e-4)
    for a, b in zip(torch.utils._pytree.tree_leaves(state), torch.utils._pytree.tree_leaves(want_state), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_stepper_from_zero_state_and_fallback() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=11, layers=1, hidden=16, embed=4)).eval()
    ids = torch.tensor([3, 5])
    with torch.no_grad():
        want, _ = model(ids[:, None])
        got, _ = Stepper(model).step(ids, None)
        torch.testing.assert_close(got, want[:, 0], atol=1e-5, rtol=1e-4)
        model.core.rnn = torch.nn.LSTM(4, 16, 1, batch_first=True, bidirectional=False, proj_size=8)
        stepper = Stepper(model)  # an LSTM with projections is not fused: falls back to the forward
    assert not stepper.fused


@pytest.mark.parametrize("arch", FUSED)
def test_bf16_stepper_is_close_to_forward(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=23, arch=arch, layers=2, hidden=64, embed=8)).eval()
    stepper = Stepper(model, "bf16")
    ids = torch.randint(0, 23, (4, 12))  # (B,T)
    with torch.no_grad():
        want, _ = model(ids)  # (B,T,V)
        state, got = None, []
        for t in range(12):
            logits, state = stepper.step(ids[:, t], state)  # (B,V)
            got.append(logits)
    got_t = torch.stack(got, 1)  # (B,T,V)
    assert not torch.equal(got_t, want)  # the bf16 products are really used
    torch.testing.assert_close(got_t, want, atol=2e-2, rtol=0)


def test_tanh_by_sigmoid_matches_tanh() -> None:
    from charlm.models.stepper import _tanh_by_sigmoid

    x = torch.linspace(-30, 30, 200_001)
    assert float((_tanh_by_sigmoid(x) - torch.tanh(x.double()).float()).abs().max()) < 3e-7


def test_bf16_fallback_runs_the_forward_under_autocast() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=11, arch="lstm-cell", layers=1, hidden=16, embed=4)).eval()
    stepper = Stepper(model, "bf16")
    assert not stepper.fused
    ids = torch.tensor([3, 5])
    with torch.no_grad():
        want, _ = model(ids[:, None])  # (B,1,V)
        got, _ = stepper.step(ids, None)  # (B,V)
    assert got.dtype == torch.bfloat16  # autocast really applied
    torch.testing.assert_close(got.float(), want[:, 0], atol=3e-2, rtol=0)
