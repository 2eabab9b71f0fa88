"""Shared fixtures and constants: the tiny corpus, the one tiny training configuration, tiny trained models.

Every test that trains starts from :data:`TINY` (TrainConfig keyword arguments) or its command-line
form :func:`tiny_args`, overriding only what it tests, so the size of "tiny" is set here once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Two cores shared with other jobs: one intra-op thread per test process is ~10x faster than oversubscribing.
os.environ.setdefault("CHARLM_THREADS", "1")


def _shared_data() -> Path:
    """../shared/data beside the checkout (or beside any directory above it, e.g. from a git worktree)."""
    if os.environ.get("CHARLM_SHARED_DATA"):
        return Path(os.environ["CHARLM_SHARED_DATA"])
    here = Path(__file__).resolve()
    for parent in here.parents[1:]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return here.parents[2] / "shared" / "data"


SHARED = _shared_data()

TINY_TEXT = (
    "the cat sat on the mat\n"
    "the dog sat on the log\n"
    "a cat and a dog ate the apple and pear salad\n"
    "the king is dead long live the king\n"
) * 40

# The one tiny configuration: a 1 x 16 char LSTM on one CPU thread trains a step in milliseconds.
TINY: dict[str, Any] = dict(hidden=16, embed=8, layers=1, seq_len=16, batch_size=4, device="cpu", threads=1)


def tiny_args(**overrides: Any) -> list[str]:
    """:data:`TINY` (plus ``overrides``) as ``charlm train`` options: ``seq_len=16`` -> ``--seq-len 16``."""
    args: list[str] = []
    for name, value in {**TINY, **overrides}.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False and value is not None:
            args += [flag, str(value)]
    return args


def tiny_config(corpus: Path, root: Path, name: str = "model", **overrides: Any) -> Any:
    """A TrainConfig of :data:`TINY` (plus ``overrides``) training on ``corpus`` into ``root/name``."""
    from charlm.training.config import TrainConfig

    return TrainConfig(
        corpus=str(corpus), out=str(root / name), checkpoints=str(root / "checkpoints"), **{**TINY, **overrides}
    )


def no_crash(result: Any) -> None:
    """A CliRunner result ended by the command itself (exit code), not by an exception escaping it.

    Under CliRunner a traceback never reaches ``result.output``: the exception is ``result.exception``.
    """
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


def _trained(root: Path, **overrides: Any) -> Path:
    from charlm.training.loop import train

    path = root / "corpus.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    settings = dict(eval_every=50, lr=1e-2, dropout=0.0)
    return train(tiny_config(path, root, **{**settings, **overrides})).run_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small char LSTM trained for a few seconds (150 steps: it has learned the corpus); never modified."""
    return _trained(tmp_path_factory.mktemp("tiny"), hidden=64, embed=16, seq_len=32, batch_size=8, steps=150)


@pytest.fixture(scope="session")
def tiny_word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small word LSTM (100 steps); never modified."""
    return _trained(tmp_path_factory.mktemp("tinyword"), level="word", hidden=32, embed=16, seq_len=8, steps=100)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nothing can be written into (holding one file, ``kept``), for root too.

    chmod does not stop root, so as root the directory is made immutable (``chattr +i``) instead;
    where neither works the test is skipped.
    """
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "kept").write_text("kept")
    root = os.geteuid() == 0
    if root and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr: no directory is read-only here")
    if not root:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)
