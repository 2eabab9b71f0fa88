"""Issue 6 end to end: every architecture trains, scores and samples from the CLI; bidirectional
scoring; gradflow's table and plot; neighbors and analogies; help with examples for the new commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.models.registry import ARCHS

runner = CliRunner()
TINY = [
    "--steps",
    "4",
    "--hidden",
    "12",
    "--embed",
    "8",
    "--layers",
    "2",
    "--seq-len",
    "12",
    "--batch-size",
    "4",
    "--eval-every",
    "4",
    "--device",
    "cpu",
    "--threads",
    "1",
]


def _train(corpus: Path, out: Path, *extra: str) -> None:
    result = runner.invoke(app, ["train", str(corpus), "--out", str(out), *TINY, *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # checkpoints/latest lands in the test's directory


@pytest.mark.parametrize("command", ["gradflow", "neighbors"])
def test_new_commands_have_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: charlm " + command in result.output


@pytest.mark.parametrize("arch", sorted(set(ARCHS) - {"lstm", "gru", "rnn", "rnn-relu"}))
def test_every_architecture_trains_scores_and_samples(arch: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / arch
    _train(corpus, out, "--arch", arch, "--residual")
    assert json.loads((out / "config.json").read_text())["model"]["arch"] == arch
    score = runner.invoke(app, ["score", "--model", str(out), "--json", "the cat"])
    assert score.exit_code == 0, score.output
    assert json.loads(score.stdout)["tokens"] == 8
    sample = runner.invoke(app, ["sample", "--model", str(out), "--length", "10", "--seed", "1"])
    assert sample.exit_code == 0, sample.output


def test_model_options_train_from_the_cli(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "awd"
    _train(corpus, out, "--wdrop", "0.3", "--dropoute", "0.1", "--locked-dropout", "--tie-weights", "--attention", "4")
    model = json.loads((out / "config.json").read_text())["model"]
    assert (model["wdrop"], model["dropoute"], model["locked_dropout"], model["attention"]) == (0.3, 0.1, True, 4)
    bad = runner.invoke(
        app, ["train", str(corpus), "--out", str(tmp_path / "bad"), *TINY, "--arch", "gru", "--wdrop", "0.3"]
    )
    assert bad.exit_code != 0 and "--wdrop" in bad.output


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


def test_bidirectional_forward_half_matches_the_forward_scorer(corpus: Path, tmp_path: Path) -> None:
    from charlm.api import load
    from charlm.eval.bidirectional import score_both

    out = tmp_path / "both"
    _train(corpus, out, "--direction", "both")
    lm = load(out, device="cpu")
    both = score_both(lm.module, lm.tokenizer, "the dog sat")
    assert both.forward == pytest.approx(lm.score("the dog sat")[0].logprob, rel=1e-5)


def test_gradflow_writes_table_and_plot(corpus: Path, tmp_path: Path, tiny_model: Path) -> None:
    plot = tmp_path / "g.png"
    result = runner.invoke(
        app,
        [
            "gradflow",
            "--arch",
            "rnn",
            "--arch",
            "lstm-cell",
            "--model",
            str(tiny_model),
            "--text",
            str(corpus),
            "--length",
            "12",
            "--batch",
            "2",
            "--hidden",
            "8",
            "--plot",
            str(plot),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [r["label"] for r in payload["results"]] == ["model", "rnn", "lstm-cell"]
    assert all(len(r["norms"]) == 11 for r in payload["results"])
    assert plot.read_bytes()[:4] == b"\x89PNG"
    table = runner.invoke(app, ["gradflow", "--arch", "gru", "--length", "8", "--batch", "2", "--plot", str(plot)])
    assert table.exit_code == 0 and "gru" in table.stdout


def test_gradflow_shows_the_rnn_gradient_vanishing() -> None:
    from charlm.eval.gradflow import GradFlow, measure
    from charlm.models.base import build_model
    from charlm.models.config import ModelConfig

    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=20, arch="rnn", layers=1, hidden=32, embed=8))
    ids = torch.randint(0, 20, (4, 41))
    flow = GradFlow("rnn", "random", "random tokens", measure(model, ids))
    assert flow.rate < 0.9
    assert flow.relative(30) < 1e-3
    assert GradFlow("x", "random", "text", [1.0, 0.5, 0.25, 0.125]).rate == pytest.approx(0.5)


def test_neighbors_and_analogy(tiny_word_model: Path, tiny_model: Path) -> None:
    result = runner.invoke(app, ["neighbors", "cat", "--model", str(tiny_word_model), "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert len(found) == 3 and "cat" not in [n["word"] for n in found]
    assert found[0]["similarity"] >= found[1]["similarity"] >= found[2]["similarity"]
    analogy = runner.invoke(
        app, ["neighbors", "--analogy", "king", "cat", "dog", "--model", str(tiny_word_model), "--json"]
    )
    assert analogy.exit_code == 0, analogy.output
    assert {"king", "cat", "dog"}.isdisjoint(n["word"] for n in json.loads(analogy.stdout))
    char = runner.invoke(app, ["neighbors", "cat", "--model", str(tiny_model)])
    assert char.exit_code == 1 and "word-level" in char.output
    missing = runner.invoke(app, ["neighbors", "zebra", "--model", str(tiny_word_model)])
    assert missing.exit_code == 1 and "vocabulary" in missing.output


def test_neighbors_are_the_most_cosine_similar_rows() -> None:
    from charlm.eval.neighbors import neighbors
    from charlm.models.base import build_model
    from charlm.models.config import ModelConfig
    from charlm.tokenizers import build_tokenizer

    tok = build_tokenizer("word", "a b c d\n")
    model = build_model(ModelConfig(vocab_size=tok.vocab_size, arch="lstm", layers=1, hidden=4, embed=2))
    with torch.no_grad():
        model.embed.weight.copy_(torch.tensor([[0, 0], [0, 0], [1, 0], [0.9, 0.1], [0, 1], [-1, 0]]))
    found = neighbors(model, tok, "a", k=3)
    assert [n.word for n in found] == ["b", "c", "d"]
    assert found[0].similarity == pytest.approx(0.9 / (0.81 + 0.01) ** 0.5)


def test_fine_tuning_keeps_the_source_models_structure(corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    _train(corpus, source, "--arch", "lstm", "--wdrop", "0.2", "--direction", "both", "--attention", "3")
    tuned = tmp_path / "tuned"
    result = runner.invoke(app, ["train", str(corpus), "--out", str(tuned), "--init-from", str(source), *TINY])
    assert result.exit_code == 0, result.output
    model = json.loads((tuned / "config.json").read_text())["model"]
    assert (model["direction"], model["attention"], model["wdrop"]) == ("both", 3, 0.2)
