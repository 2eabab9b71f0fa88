"""Training: loss falls on a tiny corpus, files land where the format says, budgets stop it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.models.registry import ARCHS
from charlm.training.config import TrainConfig, parse_duration
from charlm.training.loop import train
from tests.conftest import tiny_config


def test_loss_falls_and_model_directory_is_complete(tiny_model: Path) -> None:
    events = [json.loads(line) for line in (tiny_model / "metrics.jsonl").read_text().splitlines()]
    evals = [e["val_loss"] for e in events if e["event"] == "eval"]
    assert len(evals) >= 3
    vocab = json.loads((tiny_model / ckpt.CONFIG).read_text())["model"]["vocab_size"]
    assert evals[0] < math.log(vocab) - 1.0  # far below a uniform guess
    assert evals[-1] < evals[0]
    for name in (ckpt.CONFIG, ckpt.BEST, ckpt.LAST, ckpt.TRAINER_STATE, "tokenizer.json", "metrics.jsonl"):
        assert (tiny_model / name).exists(), name
    config = json.loads((tiny_model / ckpt.CONFIG).read_text())
    assert config["summary"]["step"] == 150
    assert config["model"]["arch"] == "lstm"


def test_latest_points_at_the_run(tiny_model: Path) -> None:
    latest = tiny_model.parent / "checkpoints" / "latest"
    assert latest.is_symlink()
    assert latest.resolve() == tiny_model.resolve()


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(name for name, spec in ARCHS.items() if spec.fused))
@pytest.mark.trains
def test_every_fused_arch_learns(arch: str, corpus: Path, tmp_path: Path) -> None:
    settings = dict(arch=arch, hidden=32, layers=2, steps=20, eval_every=10, lr=1e-2, warmup=0)
    result = train(tiny_config(corpus, tmp_path, arch, **settings))
    assert result.steps == 20
    vocab = json.loads((result.run_dir / ckpt.CONFIG).read_text())["model"]["vocab_size"]
    assert result.best_val_loss < math.log(vocab) - 0.3  # a uniform guess scores log(vocab); 20 steps beat it


def test_refuses_to_overwrite_a_model(tiny_model: Path, corpus: Path) -> None:
    before = (tiny_model / ckpt.BEST).read_bytes()
    with pytest.raises(CharlmError, match="already holds a model"):
        train(TrainConfig(corpus=str(corpus), out=str(tiny_model), steps=1))
    assert (tiny_model / ckpt.BEST).read_bytes() == before


@pytest.mark.slow
@pytest.mark.trains
def test_epoch_budget(corpus: Path, tmp_path: Path) -> None:
    result = train(tiny_config(corpus, tmp_path, epochs=1))
    assert 0 < result.tokens <= len(corpus.read_text()) * 1.05


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1.5h", 5400)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(CharlmError):
        parse_duration("ten minutes")
