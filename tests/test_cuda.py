"""The CUDA path: training on the GPU, bf16 by default, and loading the result on CPU. Skips without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import charlm

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def test_gpu_trained_model_loads_and_scores_the_same_on_cpu(corpus: Path, tmp_path: Path) -> None:
    result = charlm.train(
        charlm.TrainConfig(
            corpus=str(corpus),
            out=str(tmp_path / "m"),
            checkpoints=str(tmp_path / "ck"),
            hidden=64,
            embed=16,
            seq_len=32,
            batch_size=8,
            steps=60,
            eval_every=30,
            device="auto",
        )
    )
    on_gpu = charlm.load(result.run_dir, device="cuda")
    on_cpu = charlm.load(result.run_dir, device="cpu")
    assert on_gpu.info()["summary"]["device"].startswith("cuda")
    assert on_gpu.info()["summary"]["precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    texts = ["the cat sat on the mat", "the king is dead"]
    for g, c in zip(on_gpu.score(texts), on_cpu.score(texts), strict=True):
        assert g.logprob == pytest.approx(c.logprob, rel=1e-3, abs=1e-3)
    assert (
        on_gpu.sample("the ", length=20, seed=1, temperature=0)[0].text
        == on_cpu.sample("the ", length=20, seed=1, temperature=0)[0].text
    )
