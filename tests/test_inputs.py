"""Input from anywhere: several files, a directory (its *.txt, sorted) or ``-`` (stdin) read as their
concatenation by ``train``, ``tokenize`` and ``eval`` (:func:`charlm.inputs.resolve_inputs`)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.inputs import resolve_inputs
from charlm.io import read_text

runner = CliRunner()
PARTS = ["the cat sat on the mat\n", "a dog ate the pear\nand a cat\n", "the king is dead\n"]


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "parts"
    folder.mkdir()
    paths = []
    for n, text in enumerate(PARTS):
        path = folder / f"{n:02d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    (folder / "notes.md").write_text("not text for training\n", encoding="utf-8")
    return paths


@pytest.fixture
def joined(tmp_path: Path) -> Path:
    path = tmp_path / "joined.txt"
    path.write_text("".join(PARTS), encoding="utf-8")
    return path


def _resolved(paths: object, encoding: str = "utf-8") -> str:
    with resolve_inputs(paths, encoding) as (path, codec, errors):  # type: ignore[arg-type]
        return read_text(path, codec, errors)


def test_several_files_equal_their_concatenation(parts: list[Path]) -> None:
    assert _resolved(parts) == "".join(PARTS)
    assert _resolved(list(reversed(parts))) == "".join(reversed(PARTS))


def test_a_directory_gives_its_txt_files_sorted(parts: list[Path]) -> None:
    assert _resolved([parts[0].parent]) == "".join(PARTS)


def test_a_single_file_is_not_copied(parts: list[Path]) -> None:
    with resolve_inputs(parts[0]) as (path, codec, errors):
        assert (path, codec, errors) == (parts[0], "utf-8", "strict")


def test_a_missing_final_newline_does_not_join_lines(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("no newline at the end", encoding="utf-8")
    b.write_text("next file\n", encoding="utf-8")
    assert _resolved([a, b]) == "no newline at the end\nnext file\n"


def test_other_encodings_are_decoded_first(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes("caf\u00e9\n".encode("latin-1"))
    b.write_bytes("na\u00efve\n".encode("latin-1"))
    assert _resolved([a, b], "latin-1") == "caf\u00e9\nna\u00efve\n"


def test_stdin(monkeypatch: pytest.MonkeyPatch, parts: list[Path]) -> None:
    stdin = io.TextIOWrapper(io.BytesIO("\ufefffrom stdin\r\nline two".encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert _resolved([parts[0], "-"]) == PARTS[0] + "from stdin\nline two\n"


def test_bad_inputs_are_one_clear_error(tmp_path: Path, parts: list[Path]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CharlmError, match=r"no \*\.txt files"):
        _resolved([empty])
    with pytest.raises(CharlmError, match="no such file"):
        _resolved([parts[0], tmp_path / "missing.txt"])
    with pytest.raises(CharlmError, match="at most once"):
        _resolved(["-", "-"])


def test_cli_tokenize_several_files_equals_the_concatenation(parts: list[Path], joined: Path) -> None:
    def stats(*args: str) -> dict[str, object]:
        result = runner.invoke(app, ["tokenize", *args, "--level", "word", "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        payload.pop("corpus")
        return payload

    whole = stats(str(joined))
    assert stats(*map(str, parts)) == whole == stats(str(parts[0].parent))
    piped = runner.invoke(app, ["tokenize", "-", "--level", "word", "--json"], input="".join(PARTS))
    assert piped.exit_code == 0 and {k: v for k, v in json.loads(piped.stdout).items() if k != "corpus"} == whole


def test_cli_eval_several_files_equals_the_concatenation(tiny_model: Path, parts: list[Path], joined: Path) -> None:
    def ppl(*args: str) -> float:
        result = runner.invoke(app, ["eval", *args, "-m", str(tiny_model), "--json"])
        assert result.exit_code == 0, result.output
        return float(json.loads(result.stdout)["logprob"])

    assert ppl(*map(str, parts)) == pytest.approx(ppl(str(joined)), abs=1e-6)
    assert ppl(str(parts[0].parent)) == pytest.approx(ppl(str(joined)), abs=1e-6)
    named = runner.invoke(app, ["eval", *map(str, parts), "-m", str(tiny_model), "--json"])
    assert json.loads(named.stdout)["path"] == " ".join(map(str, parts))  # the inputs, not a temporary file


@pytest.mark.slow
@pytest.mark.trains
def test_cli_train_on_a_directory_sees_every_file(tmp_path: Path, parts: list[Path]) -> None:
    out = tmp_path / "run"
    args = ["train", str(parts[0].parent), "--out", str(out), "--steps", "2", "--hidden", "8", "--embed", "4"]
    args += ["--layers", "1", "--seq-len", "8", "--batch-size", "2", "--device", "cpu", "--level", "word"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    words = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["words"]
    assert {"mat", "pear", "king"} <= set(words)
