"""Every command end to end through the CLI (CliRunner, tmp_path), and each has help with an example."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm.cli.app import COMMANDS, app
from tests.conftest import no_crash, tiny_args

runner = CliRunner()


def test_commands_are_the_apps() -> None:
    """COMMANDS (what the tests below iterate) is exactly what ``charlm --help`` lists."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    section = result.output.split("Commands:")[1]
    assert [line.split()[0] for line in section.splitlines() if line.strip()] == list(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: charlm " + command in result.output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_refuses_an_unknown_option_in_one_line(command: str) -> None:
    result = runner.invoke(app, [command, "--no-such-option"])
    no_crash(result)
    assert result.exit_code == 2 and "No such option" in result.output


def test_train_then_use_latest(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", str(corpus), *tiny_args(hidden=32, steps=30, eval_every=10)])
    assert result.exit_code == 0, result.output
    assert Path("checkpoints/latest/config.json").exists()

    info = runner.invoke(app, ["info", "--json"])
    assert info.exit_code == 0
    assert json.loads(info.stdout)["summary"]["step"] == 30

    sample = runner.invoke(app, ["sample", "--length", "40", "--seed", "3", "--temp", "0.8", "--prime", "the "])
    assert sample.exit_code == 0
    assert sample.stdout.startswith("the ")
    again = runner.invoke(app, ["sample", "--length", "40", "--seed", "3", "--temp", "0.8", "--prime", "the "])
    assert again.stdout == sample.stdout

    scored = runner.invoke(app, ["score", "the cat sat on the mat", "mat the on sat cat the", "--json"])
    assert scored.exit_code == 0
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["the cat sat on the mat", "mat the on sat cat the"]
    for key in ("text", "logprob", "log10prob", "tokens", "oov", "ppl", "bpc"):
        assert key in rows[0]

    table = runner.invoke(app, ["score", "the cat sat on the mat", "--per-token"])
    assert table.exit_code == 0 and "<eos>" in table.stdout

    whole = runner.invoke(app, ["score", "--file", str(corpus), "--json"])
    assert whole.exit_code == 0
    assert json.loads(whole.stdout)["chars"] == len(corpus.read_text())


def test_score_reads_stdin(tiny_model: Path) -> None:
    result = runner.invoke(app, ["score", "--model", str(tiny_model), "--json"], input="the cat\nthe dog\n")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2


def test_tokenize_levels_and_save(corpus: Path, tmp_path: Path) -> None:
    for level in ("char", "word"):
        result = runner.invoke(app, ["tokenize", str(corpus), "--level", level, "--json"])
        assert result.exit_code == 0
        stats = json.loads(result.stdout)
        assert stats["tokens"] > 0 and stats["level"] == level
    saved = tmp_path / "tok"
    result = runner.invoke(app, ["tokenize", str(corpus), "--level", "word", "--save", str(saved)])
    assert result.exit_code == 0 and "most frequent" in result.stdout
    assert (saved / "tokenizer.json").exists()


def test_help_is_fast_to_import() -> None:
    import subprocess
    import sys

    code = "import sys, charlm.cli.app; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ}).returncode == 0
