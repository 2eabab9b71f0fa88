"""Shared fixtures: tiny corpora written to tmp_path and a tiny trained model (CPU, seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two cores shared with other jobs: one intra-op thread per test process is ~10x faster than oversubscribing.
os.environ.setdefault("CHARLM_THREADS", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

TINY_TEXT = (
    "the cat sat on the mat\n"
    "the dog sat on the log\n"
    "a cat and a dog ate the apple and pear salad\n"
    "the king is dead long live the king\n"
) * 40


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small char LSTM trained for a few seconds; shared, never modified by tests."""
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    root = tmp_path_factory.mktemp("tiny")
    path = root / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    result = train(
        TrainConfig(
            corpus=str(path),
            out=str(root / "model"),
            checkpoints=str(root / "checkpoints"),
            hidden=64,
            embed=16,
            layers=1,
            seq_len=32,
            batch_size=8,
            steps=150,
            eval_every=50,
            lr=1e-2,
            device="cpu",
            dropout=0.0,
        )
    )
    return result.run_dir


@pytest.fixture(scope="session")
def tiny_word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from charlm.training.config import TrainConfig
    from charlm.training.loop import train

    root = tmp_path_factory.mktemp("tinyword")
    path = root / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    result = train(
        TrainConfig(
            corpus=str(path),
            out=str(root / "model"),
            checkpoints=str(root / "checkpoints"),
            level="word",
            hidden=32,
            embed=16,
            layers=1,
            seq_len=8,
            batch_size=4,
            steps=100,
            eval_every=50,
            lr=1e-2,
            device="cpu",
            dropout=0.0,
        )
    )
    return result.run_dir
