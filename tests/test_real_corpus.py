"""A brief run on Tiny Shakespeare (../shared/data): the model must rank real English above a scramble."""

from __future__ import annotations

from pathlib import Path

import pytest

import charlm
from tests.conftest import SHARED

SHAKESPEARE = SHARED / "tinyshakespeare" / "input.txt"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SHAKESPEARE.exists(), reason="../shared/data/tinyshakespeare is absent"),
]


@pytest.mark.trains
def test_shakespeare_model_ranks_king_is_dead_above_scramble(tmp_path: Path) -> None:
    result = charlm.train(
        charlm.TrainConfig(
            corpus=str(SHAKESPEARE),
            out=str(tmp_path / "m"),
            checkpoints=str(tmp_path / "ck"),
            hidden=128,
            embed=32,
            layers=1,
            seq_len=64,
            batch_size=32,
            steps=300,
            eval_every=150,
            lr=1e-2,
            device="cpu",
        )
    )
    assert result.best_val_bpc < 3.0
    lm = charlm.load(result.run_dir, device="cpu")
    good, scrambled = lm.score(["the king is dead", "eht gnik si daed"])
    assert good.logprob > scrambled.logprob + 5
