"""Hostile and unlucky input: one clear line on stderr, non-zero exit, no traceback, nothing overwritten.

Also: loading never runs code from a crafted pickle, a full disk during a checkpoint leaves the previous
one loadable, and Hypothesis fuzzes the tokenizers and the score command's input.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charlm import checkpoint as ckpt
from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.tokenizers import build_tokenizer
from charlm.tokenizers.unk import apply_unk_policy
from charlm.training.config import TrainConfig
from charlm.training.loop import resume, train
from tests.conftest import TINY as TINY_CONFIG
from tests.conftest import TINY_TEXT, no_crash, tiny_args
from tests.test_errors import run_fails

runner = CliRunner()
TINY = tiny_args()


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.mark.slow
@pytest.mark.trains
def test_invalid_utf8_message_names_the_offset_and_replace_proceeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello world\n" * 50 + b"caf\xe9\n" + b"more text\n" * 50)
    run_fails(["train", str(path), "--out", str(tmp_path / "m"), "--steps", "1", *TINY], "bad byte at offset 603")
    assert not (tmp_path / "m").exists()
    ok = runner.invoke(
        app, ["train", str(path), "--out", str(tmp_path / "r"), "--steps", "2", "--errors", "replace", *TINY]
    )
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(
        app, ["train", str(path), "--out", str(tmp_path / "l"), "--steps", "2", "--encoding", "latin-1", *TINY]
    )
    assert ok.exit_code == 0, ok.output


@pytest.mark.trains
def test_windows_line_endings_become_eos(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(TINY_TEXT.replace("\n", "\r\n").encode())
    result = train(
        TrainConfig(
            corpus=str(path),
            out=str(tmp_path / "m"),
            steps=2,
            checkpoints=str(tmp_path / "ck"),
            **TINY_CONFIG,
        )
    )
    chars = json.loads((result.run_dir / "tokenizer.json").read_text())["chars"]
    assert "\r" not in chars
    assert json.loads((result.run_dir / ckpt.CONFIG).read_text())["data"]["chars"] == len(TINY_TEXT)


def test_one_very_long_line_streams_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import charlm.io as charlm_io
    import charlm.training.corpus_cache as cc

    monkeypatch.setattr(charlm_io, "CHUNK_BYTES", 4096)
    text = ("lorem ipsum dolor sit amet " * 2000).strip()  # 54 kB, no newline at all
    path = tmp_path / "long.txt"
    path.write_text(text, encoding="utf-8")
    pieces = list(charlm_io.iter_chunks(path, chunk_bytes=4096))
    assert len(pieces) > 5 and "".join(pieces) == text
    tok = cc.fit_tokenizer(path, "word")
    cache = cc.encode_file(path, tok, tmp_path)
    assert list(cache.ids) == tok.encode(text)


def test_vocabulary_larger_than_max_vocab(tmp_path: Path) -> None:
    path = tmp_path / "many.txt"
    path.write_text("".join(chr(0x4E00 + i) for i in range(3000)) * 3 + "\n", encoding="utf-8")
    run_fails(
        ["train", str(path), "--out", str(tmp_path / "m"), "--steps", "1", "--max-vocab", "50", *TINY],
        "are <unk> under this vocabulary",
    )
    run_fails(
        ["train", str(path), "--out", str(tmp_path / "m"), "--steps", "1", "--max-vocab", "2", *TINY],
        "'--max-vocab'",
        2,
    )


def test_directory_or_unreadable_where_a_file_is_expected(corpus: Path, tmp_path: Path, tiny_model: Path) -> None:
    run_fails(
        ["train", str(corpus), "--val", str(tmp_path), "--out", str(tmp_path / "m"), "--steps", "1", *TINY],
        "is a directory",
        2,  # a path of the wrong kind is a bad value: exit 2
    )
    run_fails(["score", "--model", str(tiny_model), "--file", str(tmp_path)], "is a directory", 2)
    run_fails(["score", "hi", "--model", str(corpus)], "is a file", 2)
    run_fails(["plot", str(tmp_path)], "has no metrics.jsonl")


def test_unwritable_output_dir(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real = Path.write_bytes

    def refuse(self: Path, data: bytes) -> int:
        if locked in self.parents:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", refuse)  # root ignores chmod, so simulate the refusal
    # a new run writes beside --out first (charlm.training.claim), so the parent's permissions decide
    run_fails(["train", str(corpus), "--out", str(locked / "run"), "--steps", "1", *TINY], "cannot write to")
    assert list(locked.iterdir()) == []


@pytest.mark.slow
@pytest.mark.trains
def test_disk_full_during_checkpoint_keeps_the_previous_one(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw = dict(
        corpus=str(corpus),
        checkpoints=str(tmp_path / "ck"),
        **TINY_CONFIG,
        eval_every=5,
        save_every=5,
    )
    train(TrainConfig(out=str(tmp_path / "run"), steps=10, **kw))
    before = snapshot(tmp_path / "run")
    full = {"on": False}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    def fill_disk(event: dict) -> None:
        if event["event"] == "step" and event["step"] == 12:
            full["on"] = True

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(CharlmError) as info:
        resume(tmp_path / "run", {"steps": 20}, fill_disk)
    message = str(info.value)
    assert "\n" not in message and "No space left on device" in message and "charlm train --resume" in message
    full["on"] = False
    assert ckpt.load_trainer_state(tmp_path / "run")["step"] == 10
    for name in (ckpt.BEST, ckpt.LAST, ckpt.TRAINER_STATE, "tokenizer.json"):
        assert (tmp_path / "run" / name).read_bytes() == before[name], name
    assert not list((tmp_path / "run").glob("*.tmp"))
    ckpt.load_model(tmp_path / "run")
    assert resume(tmp_path / "run", {"steps": 20}).steps == 20  # and the run goes on once there is space


def test_truncated_and_corrupted_weights(tiny_model: Path, tmp_path: Path) -> None:
    broken = copy_model(tiny_model, tmp_path / "trunc")
    data = (broken / ckpt.BEST).read_bytes()
    (broken / ckpt.BEST).write_bytes(data[: len(data) // 2])
    run_fails(["score", "hi", "--model", str(broken)], "damaged")
    flipped = bytearray(data)
    flipped[10:40] = b"\xff" * 30  # inside the JSON header
    (broken / ckpt.BEST).write_bytes(bytes(flipped))
    run_fails(["sample", "--model", str(broken), "--length", "5"], "damaged")


def test_future_config_and_mismatched_tokenizer(tiny_model: Path, tiny_word_model: Path, tmp_path: Path) -> None:
    future = copy_model(tiny_model, tmp_path / "future")
    config = json.loads((future / ckpt.CONFIG).read_text())
    config["format_version"] = 99
    (future / ckpt.CONFIG).write_text(json.dumps(config))
    run_fails(["info", "--model", str(future)], "newer than this charlm reads")
    mixed = copy_model(tiny_model, tmp_path / "mixed")
    shutil.copy(tiny_word_model / "tokenizer.json", mixed / "tokenizer.json")
    run_fails(["score", "hi", "--model", str(mixed)], "from different runs")


def test_out_of_range_options(tiny_model: Path, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # a bad value is a usage error: exit 2 (docs/reliability-hostile.md)
    run_fails(["sample", "--model", str(tiny_model), "--temp", "-0.5"], "'--temp'", 2)
    for bad in ("0", "-0.1", "1.01"):
        run_fails(["sample", "--model", str(tiny_model), "--top-p", bad], "must be in (0, 1]", 2)
    run_fails(["train", str(corpus), "--batch-size", "0"], "'--batch-size'", 2)
    run_fails(["train", str(corpus), "--save-every", "soon"], "cannot read duration", 2)
    run_fails(["train", str(corpus), "--patience", "0"], "'--patience'", 2)
    run_fails(["train", str(corpus), "--weight-decay", "-0.1"], "'--weight-decay'", 2)
    run_fails(["train", str(corpus), "--schedule", "wild"], "'wild' is not one of", 2)
    run_fails(["train"], "give a CORPUS file", 2)
    run_fails(["train", "--resume", str(tmp_path / "none")], "no such file", 2)


def test_unknown_characters_in_prime_and_score_text(tiny_model: Path) -> None:
    run_fails(["score", "the cat é€", "--model", str(tiny_model), "--unk", "error"], "not in the model's vocabulary")
    run_fails(["sample", "--prime", "Ω", "--model", str(tiny_model), "--unk", "error"], "'Ω'")
    run_fails(["score", "x", "--model", str(tiny_model), "--unk", "maybe"], "'maybe' is not one of", 2)
    skipped = runner.invoke(app, ["score", "the cat€", "--model", str(tiny_model), "--unk", "skip", "--json"])
    assert skipped.exit_code == 0 and json.loads(skipped.stdout)["oov"] == 0
    kept = runner.invoke(app, ["score", "the cat€", "--model", str(tiny_model), "--json"])
    assert json.loads(kept.stdout)["oov"] == 1


def test_word_level_unknown_policy(tiny_word_model: Path) -> None:
    from charlm.tokenizers import load_tokenizer

    tok = load_tokenizer(tiny_word_model)
    assert apply_unk_policy(tok, "the zebra sat\nthe cat", "skip") == "the sat\nthe cat"
    with pytest.raises(CharlmError, match="'zebra'"):
        apply_unk_policy(tok, "the zebra sat", "error")


class Payload:
    """A pickle whose loading would create a marker file (if anything ran it)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("target", [ckpt.TRAINER_STATE, ckpt.BEST])
def test_crafted_pickle_is_refused_without_running(target: str, tiny_model: Path, tmp_path: Path) -> None:
    import torch

    model = copy_model(tiny_model, tmp_path / "evil")
    marker = tmp_path / "pwned"
    with open(model / target, "wb") as fh:
        pickle.dump({"state": Payload(marker)}, fh)
    if target == ckpt.TRAINER_STATE:
        with pytest.raises(CharlmError, match="damaged or unsafe"):
            ckpt.load_trainer_state(model)
        torch.save({"x": Payload(marker)}, model / target)  # the torch zip format, too
        with pytest.raises(CharlmError, match="damaged or unsafe"):
            ckpt.load_trainer_state(model)
        run_fails(["train", "--resume", str(model)], "damaged or unsafe")
    else:
        run_fails(["score", "hi", "--model", str(model)], "damaged")
    assert not marker.exists()


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(train_text=st.text(min_size=1, max_size=300), probe=TEXT)
@pytest.mark.filterwarnings("ignore::charlm.errors.CharlmWarning")  # random text has few spaces
def test_fuzz_char_and_word_tokenizers(train_text: str, probe: str) -> None:
    for level in ("char", "word"):
        tok = build_tokenizer(level, train_text, segment="none")  # whitespace words (segmented: test_chinese.py)
        ids = tok.encode(probe)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert ids.count(tok.eos_id) == probe.count("\n")
        for policy in ("replace", "skip"):
            cleaned = apply_unk_policy(tok, probe, policy)
            if policy == "skip":
                assert tok.unk_id not in tok.encode(cleaned)
    tok = build_tokenizer("char", train_text)
    known = "".join(c for c in probe if c in set(train_text) or c == "\n")
    assert tok.decode(tok.encode(known)) == known


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sentences=st.lists(TEXT.filter(lambda s: s.strip() and not s.startswith("-")), min_size=1, max_size=3),
    policy=st.sampled_from(["replace", "skip", "error"]),
)
def test_fuzz_score_command_input(tiny_model: Path, sentences: list[str], policy: str) -> None:
    result = runner.invoke(app, ["score", *sentences, "--model", str(tiny_model), "--json", "--unk", policy])
    no_crash(result)
    if result.exit_code == 0:
        rows = [json.loads(line) for line in result.stdout.split("\n") if line]  # not splitlines(): U+0085 is data
        assert len(rows) == len(sentences)
    else:
        assert result.exit_code in (1, 2) and len(result.stderr.strip().splitlines()) == 1
