"""Dynamic evaluation: lr 0 is plain evaluation bit for bit, the update rule by hand, adaptation helps on
repetitive text, the model directory is untouched and the weights are restored, and the CLI's refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import charlm
from charlm.cli.app import app
from charlm.eval.corpus import eval_file
from charlm.eval.dynamic import DynamicConfig, DynamicEval
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.models.gradstats import gradient_rms, named_weights

TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 20


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dyn")
    corpus = root / "corpus.txt"
    corpus.write_text(TEXT * 5, encoding="utf-8")
    result = charlm.train(
        charlm.TrainConfig(
            corpus=str(corpus), out=str(root / "m"), checkpoints=str(root / "ck"), hidden=16, embed=8, layers=1,
            seq_len=16, batch_size=4, steps=20, eval_every=10, device="cpu",
        )
    )  # fmt: skip
    return Path(result.run_dir)


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_training_stores_gradient_statistics(trained: Path) -> None:
    lm = charlm.load(trained, device="cpu")
    stats = charlm.checkpoint.load_tensors(trained / charlm.checkpoint.DYNAMIC_STATS)
    weights = named_weights(lm.module)
    assert set(stats) == set(weights)
    assert all(stats[n].shape == p.shape and (stats[n] >= 0).all() for n, p in weights.items())
    assert any(float(s.max()) > 0 for s in stats.values())


def test_lr_zero_is_plain_streamed_eval_bit_for_bit(trained: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    lm = charlm.load(trained, device="cpu")
    stats = charlm.checkpoint.load_tensors(trained / charlm.checkpoint.DYNAMIC_STATS)
    plain = eval_file(lm.module, lm.tokenizer, text, batch_size=1, window=5)
    adapt = DynamicEval(lm.module, stats, DynamicConfig(lr=0.0, lam=0.0))
    dynamic = eval_file(lm.module, lm.tokenizer, text, dynamic=adapt)
    assert dynamic.logprob == plain.logprob and dynamic.tokens == plain.tokens


def test_update_rule_by_hand() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=5, arch="rnn", layers=1, hidden=3, embed=2)).eval()
    ids = torch.randint(0, 5, (40,))
    rms = gradient_rms(model, ids, batch=2, segment=4)
    config = DynamicConfig(lr=0.1, lam=0.01, eps=1e-3, segment=4)
    adapt = DynamicEval(model, rms, config)
    theta0 = {n: p.detach().clone() for n, p in named_weights(model).items()}
    x, y = ids[:4].unsqueeze(0), ids[1:5].unsqueeze(0)
    logits, _ = model(x)
    loss = -torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).mean()
    grads = dict(zip(theta0, torch.autograd.grad(loss, list(named_weights(model).values())), strict=True))
    mean = torch.stack([r.mean() for r in rms.values()]).mean()
    adapt.logprobs(x, y, "fp32", None)
    for name, p in named_weights(model).items():
        want = theta0[name] - 0.1 * grads[name] / (rms[name] + 1e-3)  # theta == theta0, so no decay term yet
        assert torch.allclose(p.detach(), want, atol=1e-6), name
    adapt.restore()
    assert all(torch.equal(p, theta0[n]) for n, p in named_weights(model).items())
    assert mean > 0


def test_dynamic_eval_adapts_and_leaves_the_model_alone(trained: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("zebra quartz jumps\n" * 30, encoding="utf-8")  # text the model never saw, repeated
    before = _digest(trained)
    lm = charlm.load(trained, device="cpu")
    weights = {n: p.detach().clone() for n, p in lm.module.named_parameters()}
    plain = lm.eval(text, batch_size=1, ngram_weight=0)  # the network's own numbers (no n-gram mixed in)
    dynamic = lm.eval(text, dynamic=DynamicConfig(lr=3e-3), ngram_weight=0)
    assert dynamic.bpc < plain.bpc  # it learns the repetition as it reads
    assert dynamic.dynamic == DynamicConfig(lr=3e-3).to_dict()
    assert all(torch.equal(p, weights[n]) for n, p in lm.module.named_parameters())
    assert lm.eval(text, batch_size=1, ngram_weight=0).logprob == plain.logprob
    assert _digest(trained) == before


def test_cli_dynamic_json_and_refusals(trained: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(text), "--model", str(trained), "--json", "--dynamic"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["dynamic"]["segment"] == 5 and payload["rows"] == 1
    for args in (["--dynamic-lr", "1e-4"], ["--dynamic", "--dynamic-lr", "nan"], ["--dynamic", "--independent"],
                 ["--dynamic", "--dynamic-segment", "0"]):  # fmt: skip
        bad = runner.invoke(app, ["eval", str(text), "--model", str(trained), *args])
        assert bad.exit_code == 2 and bad.exception is not None and isinstance(bad.exception, SystemExit), args
        assert "charlm: error:" in bad.stderr


def test_old_model_without_statistics_needs_a_stats_file(tmp_path: Path) -> None:
    old = Path(__file__).resolve().parent / "fixtures" / "v0" / "m_char"
    lm = charlm.load(old, device="cpu")
    text = tmp_path / "t.txt"
    text.write_text("the king is dead\nlong live the king\n" * 4, encoding="utf-8")
    with pytest.raises(charlm.CharlmError, match="--dynamic-stats"):
        lm.eval(text, dynamic=True)
    result = lm.eval(text, dynamic=True, dynamic_stats=text)
    assert result.tokens > 0 and result.dynamic is not None
