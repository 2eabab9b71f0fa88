"""Unit tests of the pieces behind 'nothing lost, nothing crashes': value types, strict JSON, the run claim."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, get_args

import pytest

from charlm.cli.paths import InputFile
from charlm.durations import parse_duration, parse_save_every
from charlm.errors import BadOption, CharlmError
from charlm.io import exchange_dirs, json_text, strict_payload
from charlm.streams import read_stream
from charlm.training.claim import Claim, RunLock, check_target, holds_model
from charlm.training.config import TrainConfig
from charlm.values import Choice, Float, Int, Temperature, Text


def test_declared_choices_agree_with_the_library() -> None:
    from charlm.eval.score import NORMALIZE
    from charlm.io import ERRORS
    from charlm.options import train, use
    from charlm.options.scoring import Precision, Unk
    from charlm.tokenizers import LEVELS
    from charlm.tokenizers.segment import SEGMENTS
    from charlm.tokenizers.unk import UNK_POLICIES

    assert train.LEVELS == LEVELS and use.UNK_POLICIES == UNK_POLICIES and use.NORMALIZE == NORMALIZE
    assert train.SEGMENTS == SEGMENTS and train.ERRORS == ERRORS
    assert get_args(Unk) == UNK_POLICIES and get_args(Precision) == use.PRECISIONS


@pytest.mark.parametrize(
    ("value", "text"),
    [(Int(1, 10), "5"), (Float(0.0, 1.0, high_open=True), "0.5"), (Choice(("a", "b")), "b"), (Temperature(), "0")],
)
def test_good_values_parse(value: Any, text: str) -> None:
    assert value.parse(text) is not None


@pytest.mark.parametrize(
    "value", [Int(1, 10), Int(0), Float(0.0, low_open=True), Float(0.0, 1.0, high_open=True), Temperature()]
)
def test_every_declared_bad_value_is_refused(value: Any) -> None:
    for bad in value.bad:
        with pytest.raises(BadOption):
            value.parse(bad)


def test_numbers_are_finite_and_capped() -> None:
    with pytest.raises(BadOption, match="finite"):
        Float(0.0).parse("nan")
    with pytest.raises(BadOption, match="whole number"):
        Int(0).parse("\u00b2")
    with pytest.raises(BadOption):
        Int(0).parse("99999999999999999999999")


def test_text_refuses_undecodable_bytes_from_argv() -> None:
    with pytest.raises(BadOption, match="UTF-8"):
        Text().parse(os.fsdecode(b"ab\xffc"))
    assert Text().parse("日本語") == "日本語"


def test_input_file_spools_a_pipe_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pid = os.fork()
    if pid == 0:  # the writer
        with open(fifo, "wb") as fh:
            fh.write(b"hello\n")
        os._exit(0)
    copy = InputFile()(str(fifo))
    os.waitpid(pid, 0)
    assert copy != fifo and copy.read_bytes() == b"hello\n" and copy.read_bytes() == b"hello\n"


def test_train_config_refuses_non_finite_and_wrong_kinds() -> None:
    for bad in ({"lr": math.nan}, {"epochs": math.nan}, {"clip": math.inf}, {"hidden": "16"}, {"threads": -1}):
        with pytest.raises(BadOption):
            TrainConfig(corpus="x", **bad)  # type: ignore[arg-type]


def test_durations_and_save_every() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    assert parse_save_every("200,10m") == (200, 600.0)
    for bad in ("99999999999999999999999", "5q", "0", "\u00b2"):
        with pytest.raises(BadOption):
            parse_save_every(bad)


def test_strict_json_turns_non_finite_into_null_with_a_reason() -> None:
    payload = {"ppl": math.inf, "rows": [1.0, math.nan], "ok": 2.0}
    clean = strict_payload(payload)
    assert clean["ppl"] is None and clean["rows"] == [1.0, None] and set(clean["null_reasons"]) == {"ppl", "rows"}
    json.loads(json_text(payload), parse_constant=lambda name: pytest.fail(name))


def test_stdin_gets_the_file_reader_verdicts() -> None:
    import io

    assert read_stream(io.BytesIO(b"\xef\xbb\xbfa\r\nb")) == "a\nb"
    with pytest.raises(CharlmError, match="NUL"):
        read_stream(io.BytesIO(b"a\x00"))
    with pytest.raises(CharlmError, match="offset 1"):
        read_stream(io.BytesIO(b"a\xff"))


def test_exchange_dirs_swaps_whole_directories(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "new").write_text("new")
    (b / "old").write_text("old")
    exchange_dirs(a, b)
    assert [p.name for p in b.iterdir()] == ["new"] and [p.name for p in a.iterdir()] == ["old"]


def test_run_lock_is_exclusive_and_removed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = RunLock(run).acquire()
    with pytest.raises(CharlmError, match=f"pid {os.getpid()}"):
        RunLock(run).acquire()  # flock is per open file description: a second open in one process conflicts too
    first.release()
    assert not first.path.exists()
    RunLock(run).acquire().release()


def test_claim_stages_then_replaces_as_a_whole(tmp_path: Path) -> None:
    final = tmp_path / "run"
    final.mkdir()
    (final / "tokenizer.model").write_bytes(b"old")
    (final / "trainer_state.pt").write_bytes(b"old")
    assert holds_model(final)
    with pytest.raises(CharlmError, match="already holds a model"):
        check_target(final, False, tmp_path / "checkpoints")
    claim = Claim(final, resume=False)
    claim.stage()
    assert claim.path != final and claim.path.is_dir()
    (claim.path / "trainer_state.pt").write_bytes(b"new")
    assert claim.commit() == final.resolve()
    assert sorted(p.name for p in final.iterdir()) == ["trainer_state.pt"]
    assert (final / "trainer_state.pt").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_claim_abandoned_before_commit_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    final = tmp_path / "run"
    final.mkdir()
    (final / "config.json").write_text("{}")
    assert not holds_model(final)  # config.json alone is not a model
    claim = Claim(final, resume=False)
    claim.stage()
    claim.abandon()
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and (final / "config.json").read_text() == "{}"


def test_long_loader_messages_are_cut_at_a_word() -> None:
    from charlm.checkpoint import _first_words

    text = _first_words(RuntimeError("word " * 40))
    assert text.endswith(" ...") and "wor ..." not in text and len(text) <= 104
