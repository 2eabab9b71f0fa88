"""The neural cache (charlm.eval.cache): hand-computed answers, the exact lambda=0 identity, the CLI and its refusals."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.eval import cache as cache_mod
from charlm.eval.cache import CacheConfig, NeuralCache
from charlm.eval.corpus import eval_file
from tests import handbuilt as hb
from tests.handbuilt import EOS, A, B

runner = CliRunner()


@pytest.fixture
def bigram(tmp_path: Path) -> Iterator[str]:
    with hb.registered():
        yield str(hb.save(tmp_path / "bigram"))


def _mix(h: list[list[float]], targets: list[int], config: CacheConfig, windows: list[int]) -> list[float]:
    """log p of ``targets`` (one row, model log p = log 0.5 everywhere) fed to one cache window by window."""
    cache, out, start = NeuralCache(config), [], 0
    for width in windows:
        hw = torch.tensor([h[start : start + width]])  # (1,W,D)
        tw = torch.tensor([targets[start : start + width]])  # (1,W)
        out += cache.mix(hw, torch.full(tw.shape, math.log(0.5)), tw)[0].tolist()
        start += width
    return out


def test_cache_distribution_known_answer_across_windows() -> None:
    h = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [math.log(3), 0.0]]  # theta 1: scores ln3, 0, ln3 for the last step
    targets = [5, 7, 7, 5]
    expected = [
        math.log(0.5),  # empty cache: the model alone
        math.log(0.75 * 0.5),  # the cache holds only (h0, 5): no mass on 7
        math.log(0.75 * 0.5 + 0.25 * (1 / (1 + math.e))),  # (h0,5) (h1,7): weights e^0 / (e^0 + e^1)... for 7
        math.log(0.75 * 0.5 + 0.25 * 3 / 7),
    ]  # weights 3, 1, 3 on (5, 7, 7)
    # step 2 queries h2 = [1,0]: scores 1 (h0 -> 5) and 0 (h1 -> 7), so p_cache(7) = 1 / (e + 1)
    config = CacheConfig(size=3, theta=1.0, lam=0.25)
    for windows in ([4], [2, 2], [1, 1, 1, 1], [3, 1]):
        assert _mix(h, targets, config, windows) == pytest.approx(expected, abs=1e-6)
    small = _mix(h, targets, CacheConfig(size=2, theta=1.0, lam=0.25), [1, 3])  # last step sees (7, 7) only
    assert small[3] == pytest.approx(math.log(0.75 * 0.5), abs=1e-6)


def test_query_blocks_and_rows_match_a_step_by_step_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "QUERY_BLOCK_FLOATS", 50)  # forces several query blocks per window
    gen = torch.Generator().manual_seed(0)
    rows, steps, dim, n, theta, lam = 3, 23, 5, 6, 0.7, 0.3
    h = torch.randn(rows, steps, dim, generator=gen)  # (R,T,D)
    targets = torch.randint(0, 4, (rows, steps), generator=gen)  # (R,T)
    model_logp = torch.log(torch.rand(rows, steps, generator=gen))  # (R,T)
    cache, got = NeuralCache(CacheConfig(n, theta, lam)), []
    for a in range(0, steps, 7):
        got.append(cache.mix(h[:, a : a + 7], model_logp[:, a : a + 7], targets[:, a : a + 7]))
    got_all = torch.cat(got, dim=1)
    for r in range(rows):
        for t in range(steps):
            past = range(max(0, t - n), t)
            if not past:
                want = model_logp[r, t]
            else:
                w = torch.stack([theta * h[r, t] @ h[r, i] for i in past]).softmax(0)
                p = sum(float(w[k]) for k, i in enumerate(past) if targets[r, i] == targets[r, t])
                want = math.log((1 - lam) * math.exp(model_logp[r, t]) + lam * p)
            assert float(got_all[r, t]) == pytest.approx(float(want), abs=1e-5)


def test_lambda_zero_is_the_plain_evaluation_exactly(tiny_model: Path, corpus: Path) -> None:
    from charlm.checkpoint import load_model

    model, tok, _ = load_model(tiny_model, torch.device("cpu"))
    plain = eval_file(model, tok, corpus, window=37, min_row_bytes=512)
    off = eval_file(model, tok, corpus, window=37, min_row_bytes=512, cache=CacheConfig(100, 0.3, 0.0))
    on = eval_file(model, tok, corpus, window=37, min_row_bytes=512, cache=CacheConfig(100, 0.3, 0.2))
    assert plain.rows > 1 and (off.logprob, off.tokens) == (plain.logprob, plain.tokens)
    assert on.logprob != plain.logprob and on.cache == {"size": 100, "theta": 0.3, "lambda": 0.2}
    assert plain.cache is None


def _expected_bigram_cache(ids: list[int], theta: float, lam: float) -> float:
    """The bigram model's features are one-hot(previous token): cache weight e^theta where it matches."""
    inputs, total = [EOS, *ids[:-1]], 0.0
    for t, (x, y) in enumerate(zip(inputs, ids, strict=True)):
        p_model = math.exp(hb.log_table()[x][y])
        if t == 0:
            total += math.log(p_model)
            continue
        weights = [math.exp(theta * (inputs[i] == x)) for i in range(t)]
        p_cache = sum(w for w, i in zip(weights, range(t), strict=True) if ids[i] == y) / sum(weights)
        total += math.log((1 - lam) * p_model + lam * p_cache)
    return total


def test_cli_cache_known_answer_and_json(bigram: str, tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("ab\nbba\nab\n", encoding="utf-8")
    ids = [A, B, EOS, B, B, A, EOS, A, B, EOS]
    result = runner.invoke(
        app,
        [
            "eval",
            str(path),
            "--model",
            bigram,
            "--json",
            "--cache",
            "50",
            "--cache-theta",
            "1.5",
            "--cache-lambda",
            "0.4",
        ],
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["cache"] == {"size": 50, "theta": 1.5, "lambda": 0.4}
    assert got["logprob"] == pytest.approx(_expected_bigram_cache(ids, 1.5, 0.4), abs=1e-5)
    plain = json.loads(runner.invoke(app, ["eval", str(path), "--model", bigram, "--json"]).stdout)
    assert plain["cache"] is None and plain["logprob"] == pytest.approx(hb.logprob(ids), abs=1e-5)
    table = runner.invoke(app, ["eval", str(path), "--model", bigram, "--cache", "50"])
    assert table.exit_code == 0 and "neural cache 50" in table.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--cache", "0"],
        ["--cache", "-3"],
        ["--cache", "5", "--cache-lambda", "1"],
        ["--cache", "5", "--cache-lambda", "-0.1"],
        ["--cache", "5", "--cache-theta", "-1"],
        ["--cache", "5", "--cache-theta", "nan"],
        ["--cache-theta", "0.5"],
        ["--cache-lambda", "0.2"],
        ["--cache", "5", "--independent"],
    ],
)
def test_cli_refuses_bad_cache_options(bigram: str, tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "t.txt"
    path.write_text("ab\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(path), "--model", bigram, *args])
    assert result.exit_code == 2 and result.stdout == ""  # a bad option value or combination: exit 2
    assert len(result.stderr.strip().splitlines()) == 1 and "cache" in result.stderr


def test_api_eval_cache(bigram: str, tmp_path: Path) -> None:
    import charlm

    path = tmp_path / "t.txt"
    path.write_text("ab\nbba\nab\n", encoding="utf-8")
    lm = charlm.load(bigram, device="cpu")
    got = lm.eval(path, cache=50, cache_theta=1.5, cache_lambda=0.4)
    ids = [A, B, EOS, B, B, A, EOS, A, B, EOS]
    assert got.logprob == pytest.approx(_expected_bigram_cache(ids, 1.5, 0.4), abs=1e-5)
    with pytest.raises(CharlmError, match="--independent"):
        lm.eval(path, independent=True, cache=50)


@pytest.mark.parametrize("extra", [{}, {"attention": 3}, {"direction": "both"}, {"tie_weights": True, "hidden": 12}])
def test_features_then_head_is_forward_and_the_cache_runs_on_every_kind(extra: dict, tmp_path: Path) -> None:
    from charlm.models.base import LanguageModel
    from charlm.models.config import ModelConfig

    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(**{"vocab_size": 4, "layers": 1, "hidden": 8, "embed": 6, **extra})).eval()
    ids = torch.randint(0, 4, (2, 9))  # (B,T)
    logits, _ = model(ids)  # (B,T,V)
    y, _ = model.features(ids)  # (B,T,D)
    assert y.shape[-1] == (6 if extra.get("tie_weights") else 8)
    assert torch.equal(model.logits_from(y), logits)
    path = tmp_path / "t.txt"
    path.write_text("abba\nab\nbbb\n" * 30, encoding="utf-8")
    plain = eval_file(model, hb.tokenizer(), path, window=7)
    off = eval_file(model, hb.tokenizer(), path, window=7, cache=CacheConfig(40, 0.5, 0.0))
    on = eval_file(model, hb.tokenizer(), path, window=7, cache=CacheConfig(40, 0.5, 0.5))
    assert off.logprob == plain.logprob and on.logprob != plain.logprob
