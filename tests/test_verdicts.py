"""Wrong verdicts of issue 22 (B16-B21): the command line's mistakes exit 2, nothing is dropped or merged
silently, the library refuses a wrong kind of argument in one line, and a closed pipe is a quiet exit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import BadOption, CharlmError
from tests.conftest import no_crash

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["predict", "the ___ ___", "--blank"], "exactly one ___"),
        (["rescore"], "NBEST"),
        (["predict", "the ___ cat", "--blank", "--candidates", ","], "empty word"),
        (["predict", "the ___ cat", "--blank", "--candidates", " , "], "empty word"),
    ],
    ids=["B16 two blanks", "B16 rescore without arguments", "B17 only commas", "B17 blank words"],
)
def test_b16_b17_the_command_line_alone_is_wrong_so_exit_2(tiny_word_model: Path, args: list[str], words: str) -> None:
    result = runner.invoke(app, [*args, "--model", str(tiny_word_model)])
    no_crash(result)
    assert result.exit_code == 2, result.output
    assert words in result.output and result.output.count("charlm: error:") == 1, result.output


def test_b18_two_models_of_one_name_keep_two_columns(tiny_model: Path, tmp_path: Path) -> None:
    for run in ("run1", "run2"):
        shutil.copytree(tiny_model, tmp_path / run / "best")
    nbest = tmp_path / "nbest.txt"
    nbest.write_text("0\tthe cat\t-1\n0\tthe cta\t-2\n", encoding="utf-8")
    models = [str(tmp_path / "run1" / "best"), str(tmp_path / "run2" / "best")]
    result = runner.invoke(app, ["rescore", str(nbest), "-m", models[0], "-m", models[1], "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert list(lines[0]["hypotheses"][0]["lm"]) == models
    assert list(lines[-1]["summary"]["weights"]["lm"]) == models
    same = runner.invoke(app, ["rescore", str(nbest), "-m", models[0], "-m", models[0], "--json"])
    assert list(json.loads(same.stdout.splitlines()[-1])["summary"]["weights"]["lm"]) == [models[0], models[0] + "#2"]


@pytest.fixture(scope="module")
def lm(tiny_model: Path) -> Any:
    from charlm.api import load

    return load(tiny_model, device="cpu")


CALLS: dict[str, Callable[[Any], Any]] = {
    "score([None])": lambda lm: lm.score([None]),
    "score(5)": lambda lm: lm.score(5),
    "rank([1, 2])": lambda lm: lm.rank([1, 2]),
    "advance('x', 'a')": lambda lm: lm.advance("x", "a"),
    "advance(state, 5)": lambda lm: lm.advance(lm.begin(), 5),
    "end('x')": lambda lm: lm.end("x"),
    "next_logprobs(None)": lambda lm: lm.next_logprobs(None),
    "advance_many(['x'], ['a'])": lambda lm: lm.advance_many(["x"], ["a"]),
    "advance_many(state, 'a')": lambda lm: lm.advance_many(lm.begin(), "a"),
    "predict('the', k=2.5)": lambda lm: lm.predict("the", k=2.5),
    "predict(None)": lambda lm: lm.predict(None),
    "sample(None)": lambda lm: lm.sample(None),
    "eval(None)": lambda lm: lm.eval(None),
    "score_file(3)": lambda lm: lm.score_file(3),
    "fill_blank(candidates='abc')": lambda lm: lm.fill_blank("the ___", candidates="abc"),
}


@pytest.mark.parametrize("call", CALLS)
def test_b20_a_wrong_kind_of_argument_is_one_line_never_a_raw_error(lm: Any, call: str) -> None:
    """fill_blank refuses a bare string of candidates (it would be three candidates "a", "b", "c")."""
    with pytest.raises(CharlmError) as refused:
        CALLS[call](lm)
    assert isinstance(refused.value, BadOption), repr(refused.value)
    assert "\n" not in str(refused.value)


def test_b21_a_closed_pipe_is_a_quiet_exit(tiny_model: Path) -> None:
    """stdout's reader goes away mid-output: exit 141 (128 + SIGPIPE), nothing on stderr."""
    charlm = Path(sys.executable).with_name("charlm")
    commands = [
        ["sample", "--model", str(tiny_model), "--length", "200000", "--seed", "1"],
        ["score", *["the cat sat on the mat"] * 3000, "--model", str(tiny_model), "--json"],
    ]
    for args in commands:
        proc = subprocess.Popen([str(charlm), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        assert len(proc.stdout.read(10)) == 10
        proc.stdout.close()  # as `| head -c 10` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141 and err == "", (args[0], proc.returncode, err)
