"""Every score / eval / sample option through the CLI, on the hand-built bigram model (known answers)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from tests import handbuilt as hb
from tests.handbuilt import EOS, A, B

runner = CliRunner()


@pytest.fixture
def model(tmp_path: Path) -> Iterator[str]:
    with hb.registered():
        yield str(hb.save(tmp_path / "bigram"))


def _json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_score_json_per_token_and_both_perplexities(model: str) -> None:
    result = runner.invoke(app, ["score", "ab", "axb", "--model", model, "--json", "--per-token"])
    assert result.exit_code == 0, result.output
    ab, axb = _json_lines(result.stdout)
    assert ab["logprob"] == pytest.approx(hb.logprob([A, B, EOS]), abs=1e-5)
    assert ab["per_token"] == [
        {"token": "a", "logprob": pytest.approx(hb.log_table()[EOS][A], abs=1e-5)},
        {"token": "b", "logprob": pytest.approx(hb.log_table()[A][B], abs=1e-5)},
        {"token": "<eos>", "logprob": pytest.approx(hb.log_table()[B][EOS], abs=1e-5)},
    ]
    assert ab["bits"] == pytest.approx(-ab["logprob"] / math.log(2))
    assert ab["log10prob"] == pytest.approx(ab["logprob"] / math.log(10))
    assert (axb["oov"], axb["tokens"], axb["chars"]) == (1, 4, 4)
    assert axb["ppl_no_oov"] != axb["ppl"]
    assert (ab["rank"], axb["rank"], ab["normalize"]) == (1, 2, "total")


def test_score_table_names_the_criterion_and_margin(model: str) -> None:
    result = runner.invoke(app, ["score", "a", "bbbb", "--model", model, "--normalize", "token", "--per-token"])
    assert result.exit_code == 0, result.output
    assert "ranked by log-prob per token" in result.stdout
    assert "margin between the best two" in result.stdout
    assert result.stdout.index("bbbb") < result.stdout.index("│ a ")  # per token, bbbb is best
    assert "<eos>" in result.stdout and "ppl w/o oov" in result.stdout


def test_score_reads_stdin_and_lines_file(model: str, tmp_path: Path) -> None:
    piped = runner.invoke(app, ["score", "--model", model, "--json"], input="ab\n\nba\n")
    assert piped.exit_code == 0 and [r["text"] for r in _json_lines(piped.stdout)] == ["ab", "ba"]
    lines = tmp_path / "s.txt"
    lines.write_text("ab\nba\nbb\n", encoding="utf-8")
    listed = runner.invoke(app, ["score", "--model", model, "--lines", str(lines), "--json", "--batch-size", "2"])
    assert listed.exit_code == 0
    assert [r["text"] for r in _json_lines(listed.stdout)] == ["ab", "ba", "bb"]


def test_score_file_is_eval(model: str, tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("ab\nba\nbxb\n", encoding="utf-8")
    scored = runner.invoke(app, ["score", "--model", model, "--file", str(path), "--json"])
    evaluated = runner.invoke(app, ["eval", str(path), "--model", model, "--json"])
    assert scored.exit_code == evaluated.exit_code == 0
    assert json.loads(scored.stdout) == json.loads(evaluated.stdout)
    got = json.loads(evaluated.stdout)
    for key in ("ppl", "ppl_no_oov", "bpc", "tokens", "oov", "chars"):
        assert key in got
    assert (got["tokens"], got["oov"], got["chars"], got["mode"]) == (10, 1, 10, "stream")


def test_eval_independent_table_and_progress(model: str, tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("ab\nba\n" * 50, encoding="utf-8")
    result = runner.invoke(app, ["eval", str(path), "--model", model, "--independent", "--progress"])
    assert result.exit_code == 0, result.output
    assert "each line from a fresh state" in result.stdout and "perplexity without OOV" in result.stdout
    as_json = runner.invoke(app, ["eval", str(path), "--model", model, "--independent", "--json", "--no-progress"])
    assert json.loads(as_json.stdout)["mode"] == "independent"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["score"], 1),  # nothing to score (empty stdin)
        (["score", "ab", "--normalize", "median"], 2),
        (["score", "ab", "--precision", "fp8"], 2),
        (["score", "ab", "--no-such-option"], 2),
        (["eval", "missing.txt"], 2),  # a path that does not exist is a bad value
        (["sample", "--prime", "a", "--prime-file", "p.txt"], 2),
        (["sample", "--top-p", "1.5"], 2),
        (["sample", "--beam", "0"], 2),
        (["sample", "--beam", "2", "--top-k", "3"], 2),
        (["sample", "--precision", "fp16"], 2),
    ],
)
def test_exit_codes_scripts_can_trust(model: str, args: list[str], code: int) -> None:
    result = runner.invoke(app, [*args, "--model", model], input="")
    assert result.exit_code == code
    if code:
        assert result.stderr.startswith("charlm: error: ") and len(result.stderr.splitlines()) == 1


def test_sample_greedy_stream_logprob_and_stop(model: str) -> None:
    result = runner.invoke(
        app, ["sample", "--model", model, "--temp", "0", "--length", "3", "--stream", "--show-logprob"]
    )
    assert result.exit_code == 0, result.output
    text, detail = result.stdout.splitlines()
    assert text == "aaa"
    assert f"logprob {hb.logprob([A, A, A]):.3f} nats over 3 tokens" in detail
    stopped = runner.invoke(
        app, ["sample", "--model", model, "--temp", "0", "--prime", "b", "--stop", "bb", "--length", "10"]
    )
    assert stopped.stdout == "b\n"  # greedy after b is b, b: the continuation stops before "bb"
    assert stopped.exit_code == 0


def test_sample_options_seed_num_topk_topp_until_eos(model: str, tmp_path: Path) -> None:
    base = ["sample", "--model", model, "--seed", "4", "--num", "3", "--length", "20", "--until-eos"]
    first = runner.invoke(app, [*base, "--top-k", "2"])
    again = runner.invoke(app, [*base, "--top-k", "2"])
    assert first.exit_code == 0 and first.stdout == again.stdout
    bodies = [line for line in first.stdout.splitlines() if not line.startswith("---")]
    assert len(bodies) == 3 and first.stdout.count("--- sample") == 3
    nucleus = runner.invoke(app, [*base, "--top-p", "0.45", "--length", "1"])
    assert [line for line in nucleus.stdout.splitlines() if not line.startswith("---")] == ["a"] * 3
    prime = tmp_path / "prime.txt"
    prime.write_text("b", encoding="utf-8")
    primed = runner.invoke(
        app, ["sample", "--model", model, "--prime-file", str(prime), "--temp", "0", "--length", "2", "--no-stream"]
    )
    assert primed.stdout == "bbb\n"


def test_sample_beam(model: str) -> None:
    result = runner.invoke(app, ["sample", "--model", model, "--beam", "2", "--length", "2", "--num", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("--- beam 1") and lines[1] == "bb"
    eos = runner.invoke(
        app,
        ["sample", "--model", model, "--beam", "9", "--length", "3", "--until-eos", "--length-norm", "--show-logprob"],
    )
    assert eos.stdout.splitlines()[1] == "a" and "finished" in eos.stdout


def test_sample_interactive(model: str) -> None:
    result = runner.invoke(
        app,
        ["sample", "--model", model, "--interactive", "--temp", "0", "--length", "2", "--no-stream"],
        input="b\na\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["bbb", "aaa"]
    assert result.stderr.count("prime> ") == 3
