"""Every command end to end through the CLI (CliRunner, tmp_path), and each has help with an example."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm.cli.app import COMMANDS, PANELS, app
from tests.conftest import no_crash, tiny_args

runner = CliRunner()


def _help_sections(text: str) -> dict[str, list[str]]:
    """``charlm --help`` as heading -> the first word of each line under it."""
    sections: dict[str, list[str]] = {}
    heading = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            heading = line[:-1]
            sections[heading] = []
        elif heading is not None and line.startswith("  ") and line.strip():
            sections[heading].append(line.split()[0])
    return sections


def test_help_groups_the_commands_by_what_people_come_for() -> None:
    """``charlm --help`` lists every command once, under its heading, in PANELS' order."""
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    sections = _help_sections(result.stdout)
    assert list(sections) == ["Options", "Make a model", "Use a model", "Ship a model", "Look inside"]
    assert {name: sections[name] for name in PANELS} == {name: list(cmds) for name, cmds in PANELS.items()}
    assert sorted(c for name in PANELS for c in sections[name]) == sorted(COMMANDS) and len(COMMANDS) == 15
    assert sections["Options"] == ["--version", "--help"]
    columns = {
        line.index(line.split()[1])
        for line in result.stdout.splitlines()
        if line.split()[:1] in [[c] for c in COMMANDS]
    }
    assert len(columns) == 1  # one column of descriptions across the headings


def test_bare_charlm_prints_the_grouped_help_and_exits_2() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 2 and "Make a model:" in result.output and "charlm: error" not in result.output


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


@pytest.mark.trains
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


@pytest.mark.trains
def test_progress_off_a_terminal_is_one_plain_line_per_update(corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["train", str(corpus), "--out", str(tmp_path / "m"), *tiny_args(steps=20, eval_every=5)]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["1", "5", "10", "15", "20"]  # the first step, then each evaluation
    number = r"(\d+\.\d{3}|-)"  # no validation figure before the first evaluation
    pattern = rf"step \d+ \(\d+%\) loss \d+\.\d{{3}} val {number} bpc {number} [\d,]+ tok/s eta \d+:\d\d"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
    assert lines[-1].startswith("step 20 (100%)") and lines[-1].endswith("eta 0:00")
    assert not any(c in result.stderr for c in "━…\r\x1b")  # no bar, no cut text, no redraws, no colour codes


def test_progress_lines_between_evaluations_are_throttled(capsys: pytest.CaptureFixture[str]) -> None:
    from charlm.cli.progress import TrainProgress, eta

    assert (eta(30.0, 0.5), eta(3600.0, 0.25), eta(1.0, 0.0)) == ("0:30", "3:00:00", "-")
    step = {"event": "step", "step": 1, "train_loss": 2.0, "tokens_per_s": 24597.0, "progress": 0.5, "time": 31.0}
    progress = TrainProgress(live=False, every_s=3600)
    for n in range(1, 4):
        progress({**step, "step": n})  # type: ignore[arg-type]
    progress({"event": "eval", "step": 3, "val_loss": 1.5, "val_bpc": 2.1, "val_lines_bpc": 2.2})  # type: ignore[arg-type,typeddict-item]
    assert capsys.readouterr().err.splitlines() == [
        "step 1 (50%) loss 2.000 val - bpc - 24,597 tok/s eta 0:31",  # then nothing until every_s has passed ...
        "step 3 (50%) loss 2.000 val 1.500 bpc 2.100 24,597 tok/s eta 0:31",  # ... or an evaluation comes
    ]


def test_help_is_fast_to_import() -> None:
    import subprocess
    import sys

    code = "import sys, charlm.cli.app; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ}).returncode == 0
