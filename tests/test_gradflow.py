"""charlm gradflow: the table, JSON and PNG from the CLI, and the measurement itself (a plain RNN's gradient vanishes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # gradflow.png lands in the test's directory


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
