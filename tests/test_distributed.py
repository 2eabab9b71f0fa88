"""Data-parallel training: 2 gloo processes on CPU match one process with the same global batch.

Tolerance: weights within 1e-5 absolute (the only difference is the order of float additions in
the gradient all-reduce), validation loss within 1e-5 relative.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from charlm.training.config import TrainConfig
from charlm.training.distributed import Dist, launched, setup
from charlm.training.loop import train
from tests.conftest import TINY_TEXT

SETTINGS = dict(
    hidden=32,
    embed=8,
    layers=2,
    seq_len=16,
    steps=12,
    eval_every=6,
    save_every=6,
    lr=1e-2,
    dropout=0.0,
    device="cpu",
    precision="fp32",
    threads=1,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, corpus: str, out: str, root: str) -> None:
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    result = train(
        TrainConfig(corpus=corpus, out=out, checkpoints=str(Path(root) / f"ck{rank}"), batch_size=4, **SETTINGS)
    )
    Path(root, f"val{rank}.txt").write_text(f"{result.best_val_loss!r} {result.tokens}")


@pytest.mark.slow
@pytest.mark.trains
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    one = train(
        TrainConfig(
            corpus=str(corpus), out=str(tmp_path / "one"), checkpoints=str(tmp_path / "ck"), batch_size=8, **SETTINGS
        )
    )
    mp.spawn(_worker, args=(2, _free_port(), str(corpus), str(tmp_path / "two"), str(tmp_path)), nprocs=2, join=True)
    a, b = load_file(str(one.run_dir / "last.safetensors")), load_file(str(tmp_path / "two" / "last.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=0, msg=name)
    vals, tokens = zip(*(Path(tmp_path, f"val{r}.txt").read_text().split() for r in range(2)), strict=True)
    vals = [float(v) for v in vals]
    assert vals[0] == pytest.approx(one.best_val_loss, rel=1e-5)
    assert [int(t) for t in tokens] == [one.tokens] * 2  # tokens count the global batch
    assert vals[0] == vals[1]  # every rank holds the all-reduced validation loss
    assert not any((tmp_path / "ck1").glob("*")), "only rank 0 writes"


def test_single_process_dist_is_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not launched()
    dist = setup("cpu")
    assert (dist.world, dist.rank, dist.is_main) == (1, 0, True)
    data = torch.arange(12).view(4, 3)
    model = torch.nn.Linear(2, 2)
    assert dist.rows(data) is data and dist.wrap(model) is model
    assert dist.weighted_mean(2.5, 10) == 2.5 and dist.agree(3.0) == 3.0


def test_rows_and_state_split_by_rank() -> None:
    data = torch.arange(24).view(4, 6)  # (B*W, L) with B=2, W=2
    assert Dist(1, 2, torch.device("cpu")).rows(data).tolist() == data[2:].tolist()
    h = torch.arange(2 * 4 * 3).view(2, 4, 3).float()  # (L, B*W, H)
    part = Dist(1, 2, torch.device("cpu")).shard_state((h, h + 1))
    assert torch.equal(part[0], h[:, 2:]) and torch.equal(part[1], h[:, 2:] + 1)


def _worker_steps(rank: int, world: int, port: int, corpus: str, out: str, root: str, again: bool) -> None:
    from charlm.training.loop import resume

    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    if again:
        resume(out, {"steps": SETTINGS["steps"]})
    else:
        train(
            TrainConfig(
                corpus=corpus,
                out=out,
                checkpoints=str(Path(root) / f"ck{rank}"),
                batch_size=4,
                **{**SETTINGS, "steps": 6, "schedule": "constant"},
            )
        )


@pytest.mark.slow
@pytest.mark.trains
def test_two_process_run_resumes(tmp_path: Path) -> None:
    """Stopped at step 6 and resumed to 12 on 2 processes = 12 steps in one process with the global batch.

    The carried hidden state is gathered to the full batch before rank 0 saves it and split again on resume.
    """
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    one = train(
        TrainConfig(
            corpus=str(corpus),
            out=str(tmp_path / "one"),
            checkpoints=str(tmp_path / "ck"),
            batch_size=8,
            **{**SETTINGS, "schedule": "constant"},
        )
    )  # the LR must not follow --steps
    for again in (False, True):
        mp.spawn(
            _worker_steps,
            args=(2, _free_port(), str(corpus), str(tmp_path / "two"), str(tmp_path), again),
            nprocs=2,
            join=True,
        )
    a, b = load_file(str(one.run_dir / "last.safetensors")), load_file(str(tmp_path / "two" / "last.safetensors"))
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=0, msg=name)
