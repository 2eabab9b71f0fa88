"""Attention over history, AWD-LSTM regularisation and the bidirectional (ELMo-style) model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from charlm.errors import CharlmError
from charlm.models.attention import HistoryAttention
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.models.dropout import LockedDropout, WeightDropLSTM, embedding_dropout
from charlm.models.registry import ARCHS


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_attention_chunked_equals_one_shot(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=11, arch=arch, layers=1, hidden=8, embed=4, attention=5)).eval()
    assert isinstance(model.core, HistoryAttention)
    ids = torch.randint(0, 11, (2, 23))
    whole, _ = model(ids)
    state, parts = None, []
    for chunk in ids.split(3, dim=1):  # chunks shorter than the attention window
        logits, state = model(chunk, state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, rtol=1e-5, atol=1e-5)


class _Stateless(nn.Module):
    """A core with no memory of its own: whatever reaches step t from the past came through attention."""

    output_size = 6

    def forward(self, x: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        return x, ()


def test_attention_reads_exactly_the_last_k_states() -> None:
    torch.manual_seed(0)
    attn = HistoryAttention(_Stateless(), window=3).eval()
    x = torch.randn(1, 10, 6)
    moved = x.clone()
    moved[0, 2] += 1.0
    base, moved_out = attn(x)[0], attn(moved)[0]
    differs = [not torch.allclose(base[0, t], moved_out[0, t]) for t in range(10)]
    assert differs == [False, False, True, True, True, True, False, False, False, False]  # steps 2..2+K


def test_locked_dropout_mask_is_shared_over_time() -> None:
    torch.manual_seed(0)
    drop = LockedDropout(0.5).train()
    y = drop(torch.ones(4, 9, 6))
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert (y == 0).any()
    assert torch.equal(drop.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_embedding_dropout_drops_whole_rows() -> None:
    torch.manual_seed(0)
    weight = torch.ones(50, 4)
    dropped = embedding_dropout(weight, 0.5, training=True)
    rows = dropped.sum(-1)
    assert set(rows.tolist()) <= {0.0, 8.0}
    assert (rows == 0).any()
    assert embedding_dropout(weight, 0.5, training=False) is weight


def test_weight_drop_changes_training_output_not_eval_output() -> None:
    torch.manual_seed(0)
    layer = WeightDropLSTM(3, 5, wdrop=0.5)
    x = torch.randn(2, 6, 3)
    reference, _ = layer.rnn(x)
    assert torch.equal(layer.eval()(x)[0], reference)
    trained, _ = layer.train()(x)
    assert not torch.allclose(trained, reference)
    trained.sum().backward()
    assert layer.rnn.weight_hh_l0.grad is not None and (layer.rnn.weight_hh_l0.grad == 0).float().mean() > 0.3


def test_awd_lstm_model_learns_is_stochastic_in_training_and_deterministic_in_eval() -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=9,
        arch="lstm",
        layers=2,
        hidden=16,
        embed=8,
        dropout=0.3,
        wdrop=0.5,
        dropoute=0.1,
        locked_dropout=True,
        tie_weights=True,
    )
    model = build_model(config).train()
    ids = torch.randint(0, 9, (4, 12))  # (B,T)
    x, y = ids[:, :-1], ids[:, 1:]
    assert not torch.equal(model(x)[0], model(x)[0])  # every regulariser draws afresh on each call

    def loss() -> torch.Tensor:
        logits, _ = model(x)  # (B,T-1,V)
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    first = loss()
    first.backward()
    before = float(first.detach())
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"  # the dropped weights' originals train too
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        trained, _ = model(x)
        assert torch.equal(trained, model(x)[0])  # eval: no dropout of any kind
        final = nn.functional.cross_entropy(trained.flatten(0, 1), y.flatten())
    assert float(final) < 0.7 * before  # it learned the batch


def test_wdrop_refused_off_the_fused_lstm() -> None:
    with pytest.raises(CharlmError, match="--wdrop"):
        build_model(ModelConfig(vocab_size=9, arch="gru", wdrop=0.3))


def test_bidirectional_model_has_a_backward_lm_sharing_the_embedding() -> None:
    from charlm.models.base import BidirectionalLM
    from charlm.training.loss import training_loss

    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=9, arch="lstm-cell", layers=1, hidden=8, embed=4, direction="both"))
    forward_only = build_model(ModelConfig(vocab_size=9, arch="lstm-cell", layers=1, hidden=8, embed=4))
    assert isinstance(model, BidirectionalLM) and model.backward_lm.embed is model.forward_lm.embed
    assert {f"forward_lm.{k}" for k in forward_only.state_dict()} < set(model.state_dict())
    x, y = torch.randint(0, 9, (2, 6)), torch.randint(0, 9, (2, 6))
    logits, _ = model(x)
    combined = training_loss(model, model(x, targets=y)[0], x, y, torch.device("cpu"), "fp32")
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    back, _ = model.backward_lm(y.flip(1))
    backward = nn.functional.cross_entropy(back.flatten(0, 1), x.flip(1).flatten())
    torch.testing.assert_close(combined, 0.5 * (loss + backward))
    logits, _ = forward_only(x)
    plain = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    head_loss = forward_only(x, targets=y)[0]
    torch.testing.assert_close(training_loss(forward_only, head_loss, x, y, torch.device("cpu"), "fp32"), plain)


def test_unknown_direction_is_one_line_error() -> None:
    with pytest.raises(CharlmError, match="--direction"):
        build_model(ModelConfig(vocab_size=9, direction="sideways"))


def test_config_json_from_before_the_new_options_still_loads() -> None:
    old = {"vocab_size": 9, "arch": "lstm", "layers": 2, "hidden": 8, "embed": 4, "dropout": 0.0, "tie_weights": False}
    config = ModelConfig.from_dict(old)
    assert (config.residual, config.direction, config.attention, config.wdrop) == (False, "forward", 0, 0.0)
    model = build_model(config)
    assert set(model.state_dict()) == {"embed.weight", "head.weight", "head.bias"} | {
        f"core.rnn.{kind}_l{layer}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for layer in (0, 1)
    }
