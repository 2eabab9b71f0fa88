"""charlm neighbors: nearest words and analogies from a word model's embeddings, refused for char models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from charlm.cli.app import app

runner = CliRunner()


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
