"""Bad input: one clear line on stderr, non-zero exit, no traceback, nothing overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from tests.conftest import no_crash

runner = CliRunner()


def run_fails(args: list[str], fragment: str, code: int = 1) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    no_crash(result)  # an exception escaping the command is result.exception, never in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": b"",
        "blank": b"   \n\n\t \n",
        "binary": b"\x00\x01\x02abc\x00" * 100,
        "latin1": "caf\xe9 cr\xe8me\n".encode("latin-1") * 50,
        "short": b"ab\n",
    }
    out = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.txt"
        path.write_bytes(data)
        out[name] = path
    return out


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("empty", "empty"),
        ("blank", "only whitespace"),
        ("binary", "binary"),
        ("latin1", "not valid utf-8"),
        ("short", "too few"),
    ],
)
def test_bad_corpus(name: str, fragment: str, bad_files: dict[str, Path], tmp_path: Path) -> None:
    run_fails(["train", str(bad_files[name]), "--out", str(tmp_path / "m"), "--steps", "1"], fragment)


def test_missing_corpus_and_directory(tmp_path: Path) -> None:
    # a path that does not exist or is of the wrong kind is a bad value: exit 2
    run_fails(["train", str(tmp_path / "nope.txt"), "--steps", "1"], "no such file", 2)
    run_fails(["train", str(tmp_path), "--steps", "1"], "is a directory", 2)


def test_latin1_with_encoding_proceeds(bad_files: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["tokenize", str(bad_files["latin1"]), "--encoding", "latin-1", "--json"])
    assert result.exit_code == 0
    result = runner.invoke(app, ["tokenize", str(bad_files["latin1"]), "--errors", "replace", "--json"])
    assert result.exit_code == 0


def test_missing_and_damaged_model(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_fails(["sample"], "no model at checkpoints/latest")
    run_fails(["score", "hi", "--model", str(tmp_path / "nowhere")], "no such model directory", 2)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"garbage" * 10)
    run_fails(["score", "hi", "--model", str(broken)], "damaged")
    (broken / "config.json").write_text("{not json")
    run_fails(["info", "--model", str(broken)], "damaged")


def test_out_of_range_options(tiny_model: Path, corpus: Path, tmp_path: Path) -> None:
    # a bad value is a usage error: exit 2 (docs/reliability-hostile.md)
    run_fails(["sample", "--model", str(tiny_model), "--temp", "-1"], "'--temp'", 2)
    run_fails(["sample", "--model", str(tiny_model), "--top-p", "1.5"], "--top-p", 2)
    run_fails(["train", str(corpus), "--batch-size", "0"], "'--batch-size'", 2)
    run_fails(["train", str(corpus), "--time", "soon"], "cannot read duration", 2)
    run_fails(
        ["train", str(corpus), "--arch", "transformer", "--out", str(tmp_path / "x"), "--steps", "1"],
        "'transformer' is not one of",
        2,
    )
    run_fails(["score", "--model", str(tiny_model)], "nothing to score")


def test_unwritable_output(corpus: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run_fails(["train", str(corpus), "--out", str(blocker), "--steps", "1"], "is a file", 2)
