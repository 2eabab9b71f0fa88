"""Every architecture in the registry trains, scores and samples from the CLI; model options
(AWD-LSTM, attention, --direction both) train from the CLI, and fine-tuning keeps them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.models.registry import ARCHS
from tests.conftest import tiny_args

runner = CliRunner()
TINY = tiny_args(layers=2, hidden=12, seq_len=12, steps=4, eval_every=4)


def _train(corpus: Path, out: Path, *extra: str) -> None:
    result = runner.invoke(app, ["train", str(corpus), "--out", str(out), *TINY, *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # checkpoints/latest lands in the test's directory


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.trains
def test_every_architecture_trains_scores_and_samples(arch: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / arch
    _train(corpus, out, "--arch", arch, "--residual")
    assert json.loads((out / "config.json").read_text())["model"]["arch"] == arch
    score = runner.invoke(app, ["score", "--model", str(out), "--json", "the cat"])
    assert score.exit_code == 0, score.output
    assert json.loads(score.stdout)["tokens"] == 8
    sample = runner.invoke(app, ["sample", "--model", str(out), "--length", "10", "--seed", "1"])
    assert sample.exit_code == 0, sample.output


@pytest.mark.trains
def test_model_options_train_from_the_cli(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "awd"
    _train(corpus, out, "--wdrop", "0.3", "--dropoute", "0.1", "--locked-dropout", "--tie-weights", "--attention", "4")
    model = json.loads((out / "config.json").read_text())["model"]
    assert (model["wdrop"], model["dropoute"], model["locked_dropout"], model["attention"]) == (0.3, 0.1, True, 4)
    bad = runner.invoke(
        app, ["train", str(corpus), "--out", str(tmp_path / "bad"), *TINY, "--arch", "gru", "--wdrop", "0.3"]
    )
    assert bad.exit_code != 0 and "--wdrop" in bad.output


@pytest.mark.slow
@pytest.mark.trains
def test_bidirectional_scores_both_ways_and_refuses_to_sample(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "both"
    _train(corpus, out, "--direction", "both")
    score = runner.invoke(app, ["score", "--model", str(out), "--json", "the cat", "cat the"])
    assert score.exit_code == 0, score.output
    rows = [json.loads(line) for line in score.stdout.splitlines()]
    assert {"forward", "backward", "mean"} <= set(rows[0])
    assert rows[0]["mean"] == pytest.approx((rows[0]["forward"] + rows[0]["backward"]) / 2)
    assert rows[0]["forward"] != rows[0]["backward"]
    whole = runner.invoke(app, ["score", "--model", str(out), "--file", str(corpus), "--json"])
    assert whole.exit_code == 0 and json.loads(whole.stdout)["tokens"] == len(corpus.read_text())
    sample = runner.invoke(app, ["sample", "--model", str(out)])
    assert sample.exit_code == 1
    assert "cannot sample left to right" in sample.output and len(sample.output.strip().splitlines()) == 1
    from charlm.api import load

    lm = load(out, device="cpu")
    for generate in (lm.sample, lm.beam):  # the library refuses too, not only the CLI
        with pytest.raises(CharlmError, match="cannot sample left to right"):
            generate("the")


@pytest.mark.trains
def test_bidirectional_forward_half_matches_the_forward_scorer(corpus: Path, tmp_path: Path) -> None:
    from charlm.api import load
    from charlm.eval.bidirectional import score_both

    out = tmp_path / "both"
    _train(corpus, out, "--direction", "both")
    lm = load(out, device="cpu")
    both = score_both(lm.module, lm.tokenizer, "the dog sat")
    assert both.forward == pytest.approx(lm.score("the dog sat")[0].logprob, rel=1e-5)


@pytest.mark.slow
@pytest.mark.trains
def test_fine_tuning_keeps_the_source_models_structure(corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    _train(corpus, source, "--arch", "lstm", "--wdrop", "0.2", "--direction", "both", "--attention", "3")
    tuned = tmp_path / "tuned"
    result = runner.invoke(app, ["train", str(corpus), "--out", str(tuned), "--init-from", str(source), *TINY])
    assert result.exit_code == 0, result.output
    model = json.loads((tuned / "config.json").read_text())["model"]
    assert (model["direction"], model["attention"], model["wdrop"]) == ("both", 3, 0.2)
