"""Corpora past memory: the held-out cap, streamed ``tokenize``, allocations that do not grow with the
corpus, the passes' progress lines in a pipe, and Ctrl-C while the token cache is written.

Peak memory is checked with tracemalloc (NumPy's and Python's allocations; a memmap is not an
allocation), on the same lines repeated 1x and 10x, so the vocabulary is the same and only the
length of the text changes. bench/scale.py measures the processes' peak RSS on 10 MB .. 1 GB.
"""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from charlm import checkpoint as ckpt
from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.io import read_text
from charlm.training.windows import held_out, split_ids
from tests.conftest import TINY_TEXT, tiny_args, tiny_config

LINES = "".join(f"line {i % 97} of the text, {TINY_TEXT[i % 500 : i % 500 + 40]!r}\n" for i in range(2000))


def _text(tmp_path: Path, times: int, name: str = "c.txt") -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(times):
            fh.write(LINES)
    return path


def _peak(work: Callable[[], Any]) -> int:
    """The peak of traced allocations (bytes) while ``work`` runs."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the held-out cap ------------------------------------------------------------------------------


def test_held_out_is_the_fraction_of_the_corpus_at_most_the_cap() -> None:
    assert held_out(1000, 0.05) == 50 and held_out(1000, 0.05, None) == 50
    assert held_out(1000, 0.05, 20) == 20 and held_out(1000, 0.05, 500) == 50
    assert held_out(10, 0.05, 1) == 2  # a validation loss needs two tokens
    ids = np.arange(1000)
    train, val = split_ids(ids, 0.05, 20)
    assert list(val) == list(range(980, 1000)) and len(train) == 980
    assert np.shares_memory(train, ids) and np.shares_memory(val, ids)  # views, never copies


@pytest.mark.trains
def test_the_cap_is_recorded_and_the_split_is_the_same_on_resume_and_for_the_ngram(
    corpus: Path, tmp_path: Path
) -> None:
    from charlm.training.loop import resume, train
    from charlm.training.ngram import run_ids
    from charlm.training.resume import resumed_config

    config = tiny_config(corpus, tmp_path, val_tokens=100, steps=2, eval_every=1, save_every=1, ngram_order=0)
    run = train(config).run_dir
    saved = ckpt.read_config(run)
    assert saved["train"]["val_tokens"] == 100 and saved["data"]["val_tokens"] == 100  # 5% would be 240
    train_ids, val_ids = run_ids(run)
    assert len(val_ids) == 100 and len(train_ids) == saved["data"]["train_tokens"]
    assert resume(run, {"steps": 3}).steps == 3
    assert ckpt.read_config(run)["data"]["val_tokens"] == 100
    with pytest.raises(CharlmError, match="--val-tokens 50 differs"):
        resume(run, {"val_tokens": 50})
    # A run saved before the cap existed has no val_tokens: it resumes (and builds its n-gram) on the fraction.
    old = {**saved, "train": {k: v for k, v in saved["train"].items() if k != "val_tokens"}}
    (run / "config.json").write_text(json.dumps(old), encoding="utf-8")
    assert resumed_config(run, {}).val_tokens is None
    assert len(run_ids(run)[1]) == int(saved["data"]["tokens"] * 0.05)


@pytest.mark.trains
def test_the_default_cap_leaves_a_small_corpus_split_as_before(corpus: Path, tmp_path: Path) -> None:
    from charlm.training.loop import train

    run = train(tiny_config(corpus, tmp_path, steps=1, ngram_order=0)).run_dir
    saved = ckpt.read_config(run)
    assert saved["train"]["val_tokens"] == 500_000
    assert saved["data"]["val_tokens"] == int(saved["data"]["tokens"] * 0.05)


# -- streamed tokenize ------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["char", "word", "unigram"])
def test_streamed_tokenize_equals_the_whole_text(level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import charlm.io as charlm_io
    from charlm.api import tokenize, tokenize_file

    monkeypatch.setattr(charlm_io, "CHUNK_BYTES", 1000)  # many chunks
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ("caf\u00e9 \u4e2d\u6587 \U0001f642\r\n" + TINY_TEXT).encode())
    whole = tokenize(read_text(path), level, vocab_size=320, top=50, save=tmp_path / "a")
    streamed = tokenize_file(path, level, vocab_size=320, top=50, save=tmp_path / "b")
    assert streamed == whole
    for name in ("tokenizer.json", "tokenizer.model"):
        if (tmp_path / "a" / name).exists():
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# -- allocations that do not grow with the corpus ---------------------------------------------------


def _tokenize(path: Path) -> None:
    from charlm.api import tokenize_file

    tokenize_file(path, "char")


def _prepare(path: Path) -> None:
    """What open_run does with the corpus: fit, encode, split, per-line batches, token counts."""
    from charlm.training.corpus_cache import id_counts
    from charlm.training.data import get_tokenizer, prepare
    from charlm.training.lines import line_batches

    run_dir = Path(tempfile.mkdtemp(dir=path.parent))
    config = tiny_config(path, run_dir, val_tokens=2000)
    tokenizer = get_tokenizer(config, None)
    data = prepare(config, tokenizer, run_dir)
    assert len(data.val) == 2000
    assert sum(int(m.sum()) for _, _, m in line_batches(data.val, tokenizer.eos_id, 4)) == 2000
    assert id_counts(data.train, tokenizer.vocab_size).sum() == len(data.train)


def _eval(path: Path) -> None:
    from charlm.eval.corpus import eval_file
    from charlm.models.base import build_model
    from charlm.models.config import ModelConfig
    from charlm.training.corpus_cache import fit_tokenizer

    tokenizer = fit_tokenizer(path, "char")
    model = build_model(ModelConfig(vocab_size=tokenizer.vocab_size, hidden=4, embed=4, layers=1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on several threads of a busy machine is many times slower
    try:
        assert eval_file(model, tokenizer, path, batch_size=2, window=512, min_row_bytes=1).tokens > 0
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(("work", "times"), [(_tokenize, 10), (_prepare, 10), (_eval, 10)])
def test_allocations_stay_bounded_as_the_corpus_grows(
    work: Callable[[Path], None], times: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import charlm.io as charlm_io

    monkeypatch.setattr(charlm_io, "CHUNK_BYTES", 32 << 10)
    monkeypatch.setattr("charlm.training.corpus_cache.COUNT_STEP", 1 << 14)  # bounded slices, smaller than the text
    small, big = _text(tmp_path, 1, "small.txt"), _text(tmp_path, times, "big.txt")
    work(small)  # imports and first-time set-up outside the measurement
    peaks = [_peak(lambda p=p: work(p)) for p in (small, big)]  # type: ignore[misc]
    grown = big.stat().st_size - small.stat().st_size
    # Holding the corpus would add at least a byte per character (an int64 id array: 8).
    assert peaks[1] - peaks[0] < grown / 4, (peaks, grown)


# -- progress in a pipe, Ctrl-C -------------------------------------------------------------------


@pytest.mark.trains
def test_passes_write_plain_progress_lines_in_a_pipe(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("charlm.cli.progress.QUICK", 0)  # draw even this small file's passes
    monkeypatch.setattr("charlm.io.CHUNK_BYTES", 16 << 10)  # in several chunks: the last line has a rate
    runner = CliRunner()
    path = _text(tmp_path, 1)
    tokenized = runner.invoke(app, ["tokenize", str(path), "--json"])
    assert tokenized.exit_code == 0, tokenized.output
    trained = runner.invoke(app, ["train", str(path), "--out", str(tmp_path / "m"), *tiny_args(steps=1)])
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(app, ["eval", str(path), "--model", str(tiny_model), "--progress"])
    assert evaluated.exit_code == 0, evaluated.output
    for result, stages in (
        (tokenized, ("counting characters", "encoding")),
        (trained, ("counting characters", "encoding corpus")),
        (evaluated, ("evaluating",)),
    ):
        lines = result.stderr.splitlines()
        for stage in stages:
            ends = [line for line in lines if line.startswith(f"{stage}: ") and "(100%)" in line]
            assert ends and "/s eta " in ends[-1], result.stderr
        assert not any(c in result.stderr for c in "\r\x1b")  # plain lines: no redraws, no colour codes
    assert "counting 6-grams: " in trained.stderr  # the n-gram at the end reports too (one chunk here: no rate)
    assert json.loads(tokenized.stdout)["tokens"] > 0  # progress never reaches stdout


def test_ctrl_c_while_encoding_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import charlm.io as charlm_io
    from charlm.training.corpus_cache import encode_file, fit_tokenizer

    monkeypatch.setattr(charlm_io, "CHUNK_BYTES", 4096)
    path = _text(tmp_path, 1)
    tokenizer = fit_tokenizer(path, "char")
    calls = []
    encode = tokenizer.encode_array

    def interrupted(text: str) -> np.ndarray:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return encode(text)

    monkeypatch.setattr(tokenizer, "encode_array", interrupted)
    cache_dir = tmp_path / "run"
    cache_dir.mkdir()
    with pytest.raises(KeyboardInterrupt):
        encode_file(path, tokenizer, cache_dir)
    assert list(cache_dir.iterdir()) == []  # no ids, no metadata, no temporary file


def test_small_passes_are_not_drawn_and_the_run_bar_gives_way_to_the_ngram_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from charlm.cli.progress import PassProgress, TrainProgress

    with PassProgress(live=False) as bar:
        bar("counting characters", 1000, 1000)  # a small file: over before a line could help
    assert capsys.readouterr().err == ""
    start = {"event": "start", "run_dir": "r", "parameters": 1, "vocab_size": 2, "train_tokens": 3, "val_tokens": 2,
             "device": "cpu", "precision": "fp32", "resumed_at": None}  # fmt: skip
    step = {"event": "step", "step": 1, "train_loss": 1.0, "tokens_per_s": 1.0, "progress": 1.0, "time": 0.1}
    with TrainProgress(live=True) as progress:  # one rich live display at a time: the n-gram's replaces the run's
        progress({"event": "pass", "stage": "counting characters", "done": 3 << 20, "total": 4 << 20, "unit": "bytes"})
        progress(start)  # type: ignore[arg-type]
        progress(step)  # type: ignore[arg-type]
        progress({"event": "pass", "stage": "counting 6-grams", "done": 3 << 20, "total": 4 << 20, "unit": "tokens"})
