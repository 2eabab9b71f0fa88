"""Model directories written by charlm 0.1.0, before the restructure, load and score exactly as they did.

tests/fixtures/v0 holds four tiny models (char LSTM; word GRU trained both directions; char LSTM with
weight drop, two layers and attention; bpe peephole LSTM) with the ``score --json`` and ``eval
--json`` output that version printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import charlm

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v0"
SENTENCES = ["the king is dead", "First Citizen:"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_old_model_scores_as_before(name: str) -> None:
    directory = FIXTURES / name
    expected = [json.loads(line) for line in (directory / "expected_scores.jsonl").read_text().splitlines()]
    lm = charlm.load(directory, device="cpu")
    if lm.bidirectional:
        got = [s.to_dict() for s in lm.score_both(SENTENCES)]
    else:
        got = [s.to_dict() for s in lm.score(SENTENCES)]  # score --json prints in input order
    assert [g["text"] for g in got] == [e["text"] for e in expected]
    for g, e in zip(got, expected, strict=True):
        for key, value in e.items():
            assert g[key] == pytest.approx(value, rel=1e-6, abs=1e-9) if isinstance(value, float) else g[key] == value
    eval_file = directory / "expected_eval.json"
    if eval_file.exists():
        want = json.loads(eval_file.read_text())
        result = lm.eval(FIXTURES / "eval.txt").to_dict()
        for key in ("logprob", "tokens", "chars", "oov", "bpc", "ppl"):
            assert result[key] == pytest.approx(want[key], rel=1e-6)
