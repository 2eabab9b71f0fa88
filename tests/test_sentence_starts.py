"""Sentence starts: resets at line ends, the learned start state, and the per-line validation loss.

- ``--reset-at-eos P`` resets rows inside a window exactly as running the row afresh would, and a
  run with resets killed and resumed equals the uninterrupted run bit for bit;
- P=0 is today's training: the reset machinery is neutral when nothing resets;
- a model with a learned start state scores, samples and evaluates from it;
- training reports the validation loss streamed and per line, and the per-line figure is what
  ``charlm eval --independent`` gives on the same text;
- old models and old runs keep their zero start.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from safetensors.torch import load_file
from typer.testing import CliRunner

import charlm
from charlm import checkpoint as ckpt
from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.models.registry import ARCHS
from charlm.training.config import TrainConfig
from charlm.training.lines import evaluate_lines, line_batches
from charlm.training.loop import resume, train
from charlm.training.recipes import with_recipe
from charlm.training.resume import resumed_config
from tests.conftest import TINY_TEXT

# fp32: bf16 autocast on CPUs with native bf16 (oneDNN) is not bitwise repeatable from run to run.
TINY = dict(hidden=32, embed=8, layers=1, seq_len=16, batch_size=4, eval_every=10, device="cpu", dropout=0.1, threads=1)
TINY["precision"] = "fp32"
EOS = 0


def config(tmp: Path, corpus: Path, name: str, **kw: object) -> TrainConfig:
    return TrainConfig(corpus=str(corpus), out=str(tmp / name), checkpoints=str(tmp / "ck"), **{**TINY, **kw})


def weights(run: Path, name: str = ckpt.LAST) -> dict[str, torch.Tensor]:
    return load_file(run / name)


def same_weights(a: Path, b: Path, name: str = ckpt.LAST) -> bool:
    wa, wb = weights(a, name), weights(b, name)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# -- the model: resets inside a window -----------------------------------------------------------


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("start", ["zero", "learned"])
def test_a_reset_row_reads_on_as_if_it_started_there(arch: str, start: str) -> None:
    """Row 0 reset before step 4 continues exactly like a fresh run of its tail; row 1 is untouched."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=7, arch=arch, layers=2, hidden=12, embed=6, start_state=start)).eval()
    if model.start is not None:
        torch.nn.init.normal_(model.start.vector)
    ids = torch.randint(1, 7, (2, 10))  # (B,T)
    ids[0, 4] = EOS
    warm = torch.randint(1, 7, (2, 3))  # a carried state that is not the start
    with torch.no_grad():
        _, state = model(warm)
        resets = torch.zeros(2, 10, dtype=torch.bool)
        resets[0, 4] = True
        got, _ = model(ids, state, resets)  # (B,T,V)
        plain, _ = model(ids, state)
        tail, _ = model(ids[0:1, 4:])  # row 0 from the start state
    torch.testing.assert_close(got[1], plain[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[0, :4], plain[0, :4], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[0, 4:], tail[0], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(got[0, 4:], plain[0, 4:])


def test_no_reset_is_the_plain_forward_bit_for_bit() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=7, hidden=12, embed=6)).eval()
    ids = torch.randint(0, 7, (3, 9))
    with torch.no_grad():
        a, sa = model(ids)
        b, sb = model(ids, None, torch.zeros(3, 9, dtype=torch.bool))
    assert torch.equal(a, b) and all(torch.equal(x, y) for x, y in zip(sa, sb, strict=True))


# -- training: P=0 is the plain run, resets resume exactly -----------------------------------------


@pytest.mark.slow
@pytest.mark.trains
def test_resets_that_never_hit_leave_training_unchanged_and_resets_change_it(corpus: Path, tmp_path: Path) -> None:
    """Coins drawn but never hitting (P=1e-12) leave the run bit-identical to P=0: the draws use a
    generator of their own and the forward is the plain one; P=0.5 trains another model."""
    train(config(tmp_path, corpus, "p0", steps=12))
    train(config(tmp_path, corpus, "tiny", steps=12, reset_at_eos=1e-12))
    train(config(tmp_path, corpus, "half", steps=12, reset_at_eos=0.5))
    assert same_weights(tmp_path / "p0", tmp_path / "tiny")
    assert not same_weights(tmp_path / "p0", tmp_path / "half")


@pytest.mark.slow
@pytest.mark.trains
def test_resets_are_exactly_resumable_after_a_kill(corpus: Path, tmp_path: Path) -> None:
    """Stopped by a signal mid-run and resumed, a run with resets and a learned start equals the straight run."""
    kw = dict(steps=30, save_every=100, reset_at_eos=0.5, start_state="learned")
    train(config(tmp_path, corpus, "straight", **kw))

    def stop_at_13(event: dict) -> None:
        if event["event"] == "step" and event["step"] == 13:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(CharlmError, match="charlm train --resume"):
        train(config(tmp_path, corpus, "split", **kw), stop_at_13)
    assert ckpt.load_trainer_state(tmp_path / "split")["step"] == 13
    resume(tmp_path / "split")
    assert same_weights(tmp_path / "straight", tmp_path / "split")
    assert same_weights(tmp_path / "straight", tmp_path / "split", ckpt.BEST)
    straight, split = (ckpt.load_trainer_state(tmp_path / n) for n in ("straight", "split"))
    assert torch.equal(straight["resets"], split["resets"])


def test_reset_probability_is_checked() -> None:
    with pytest.raises(CharlmError, match="--reset-at-eos must be in"):
        TrainConfig(corpus="x", reset_at_eos=1.5)
    with pytest.raises(CharlmError, match=r"--start-state .random. is not one of"):
        TrainConfig(corpus="x", start_state="random")


def _ddp_worker(rank: int, world: int, port: int, corpus: str, out: str, root: str) -> None:
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    kw = {**TINY, "batch_size": 2, "steps": 8, "dropout": 0.0, "reset_at_eos": 0.5, "start_state": "learned"}
    result = train(TrainConfig(corpus=corpus, out=out, checkpoints=str(Path(root) / f"ck{rank}"), **kw))
    Path(root, f"val{rank}.txt").write_text(f"{result.best_val_loss!r} {result.best_val_lines_bpc!r}")


@pytest.mark.slow
@pytest.mark.trains
def test_two_processes_reset_the_same_rows_as_one(corpus: Path, tmp_path: Path) -> None:
    """Resets are drawn for the global batch, so 2 gloo processes of 2 rows train as 1 process of 4."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    kw = {**TINY, "batch_size": 4, "steps": 8, "dropout": 0.0, "reset_at_eos": 0.5, "start_state": "learned"}
    one = train(config(tmp_path, corpus, "one", **kw))
    mp.spawn(_ddp_worker, args=(2, port, str(corpus), str(tmp_path / "two"), str(tmp_path)), nprocs=2, join=True)
    a, b = weights(one.run_dir), weights(tmp_path / "two")
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=0, msg=name)
    val, lines = (float(v) for v in Path(tmp_path, "val0.txt").read_text().split())
    assert val == pytest.approx(one.best_val_loss, rel=1e-5)
    assert lines == pytest.approx(one.best_val_lines_bpc, rel=1e-5)


# -- the learned start state: score, sample, eval ------------------------------------------------


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("learned")
    corpus = root / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    val = root / "val.txt"
    val.write_text("the cat sat on the log\nthe dog ate the salad\na king\n", encoding="utf-8")
    result = train(
        TrainConfig(
            corpus=str(corpus),
            val=str(val),
            out=str(root / "model"),
            checkpoints=str(root / "ck"),
            **{**TINY, "steps": 20, "reset_at_eos": 0.5, "start_state": "learned", "lr": 1e-2, "ngram_order": 0},
        )
    )
    return result.run_dir


def _manual_logprob(lm: charlm.Model, ids: list[int]) -> float:
    """Sum of log p(ids[1:]) reading ``ids`` from the model's start state."""
    x = torch.tensor([ids])
    with torch.no_grad():
        logits, _ = lm.module(x[:, :-1], lm.module.start_state(1))
    return float(F.log_softmax(logits, -1)[0].gather(-1, x[0, 1:, None]).sum())


def test_learned_start_state_is_saved_trained_and_used_to_score(learned: Path) -> None:
    lm = charlm.load(learned, device="cpu")
    assert lm.module.start is not None and lm.config["model"]["start_state"] == "learned"
    assert float(lm.module.start.vector.detach().abs().sum()) > 0  # trained away from its zero initialisation
    tok = lm.tokenizer
    text = "the cat"
    ids = [tok.eos_id, *tok.encode(text), tok.eos_id]
    score = lm.score([text], ngram_weight=0)[0]
    assert score.logprob == pytest.approx(_manual_logprob(lm, ids), abs=1e-4)
    with torch.no_grad():
        lm.module.start.vector.add_(1.0)  # another start state: another score
    assert lm.score([text], ngram_weight=0)[0].logprob != pytest.approx(score.logprob, abs=1e-4)


def test_sampling_without_a_prime_starts_from_the_learned_state(learned: Path) -> None:
    lm = charlm.load(learned, device="cpu")
    drawn = lm.sample(length=12, seed=3, ngram_weight=0)[0]
    ids = [lm.tokenizer.eos_id, *drawn.ids]
    assert drawn.logprob == pytest.approx(_manual_logprob(lm, ids), abs=1e-4)
    start = lm.module.start
    lm.module.start = None  # the same weights from zeros give another probability
    try:
        x = torch.tensor([ids])
        with torch.no_grad():
            logits, _ = lm.module(x[:, :-1])
        zero = float(F.log_softmax(logits, -1)[0].gather(-1, x[0, 1:, None]).sum())
    finally:
        lm.module.start = start
    assert zero != pytest.approx(drawn.logprob, abs=1e-4)


def test_predict_reads_from_the_learned_start_state(learned: Path) -> None:
    """``predict`` after an empty prefix gives log p(first token | start state, <eos>)."""
    lm = charlm.load(learned, device="cpu")
    best = lm.predict("", k=1)[0]
    ids = [lm.tokenizer.eos_id, *lm.tokenizer.encode(best.text)]
    assert best.logprob == pytest.approx(_manual_logprob(lm, ids), abs=1e-4)
    with torch.no_grad():
        lm.module.start.vector.add_(1.0)
    assert lm.predict("", k=1)[0].logprob != pytest.approx(best.logprob, abs=1e-4)


# -- measured both ways --------------------------------------------------------------------------


def test_training_reports_streamed_and_per_line_loss(learned: Path) -> None:
    """metrics.jsonl and config.json hold both; the per-line figure is eval --independent's on the val file."""
    events = [json.loads(line) for line in (learned / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    assert evals and all(math.isfinite(e["val_lines_loss"]) and e["val_lines_bpc"] > 0 for e in evals)
    summary = ckpt.read_config(learned)["summary"]
    assert summary["best_val_lines_bpc"] > 0 and summary["best_val_bpc"] > 0
    lm = charlm.load(learned, device="cpu")
    model_best = ckpt.BEST if (learned / ckpt.BEST).exists() else ckpt.LAST
    ckpt.load_weights(lm.module, learned / model_best, device=torch.device("cpu"))
    independent = lm.eval(Path(ckpt.read_config(learned)["train"]["val"]), independent=True, ngram_weight=0)
    assert independent.nats_per_token == pytest.approx(summary["best_val_lines_loss"], rel=1e-5)
    result = CliRunner().invoke(app, ["info", "--model", str(learned)])
    assert result.exit_code == 0, result.output
    assert "per line" in result.output and "start state learned" in result.output


def test_per_line_loss_counts_every_token_once_from_the_start() -> None:
    ids = torch.tensor([3, 4, EOS, 5, EOS, EOS, 6, 6]).numpy()  # lines "34", "5", "", "66" (no final eos)
    batches = line_batches(ids, EOS, batch_size=2)
    assert sum(int(m.sum()) for _, _, m in batches) == len(ids)
    assert all(bool((x[:, 0] == EOS).all()) for x, _, _ in batches)  # every line read after <eos>
    model = build_model(ModelConfig(vocab_size=7, hidden=8, embed=4))
    mean, count = evaluate_lines(model, batches, window=2)
    one, _ = evaluate_lines(model, line_batches(ids, EOS, batch_size=1), window=100)
    assert count == len(ids) and mean == pytest.approx(one, rel=1e-5)


# -- old models and old runs ---------------------------------------------------------------------


def test_models_and_runs_from_before_keep_their_zero_start(tmp_path: Path, corpus: Path) -> None:
    for directory in (Path(__file__).parent / "fixtures" / "v0").iterdir():
        if directory.is_dir():
            lm = charlm.load(directory, device="cpu")
            assert not any(name.endswith("start.vector") for name, _ in lm.module.named_parameters())
            assert lm.forward_lm.start is None
    run = tmp_path / "old"
    run.mkdir()
    saved = with_recipe(TrainConfig(corpus=str(corpus))).to_dict()
    for added in ("start_state", "reset_at_eos"):
        saved.pop(added)  # a run saved before sentence-start options existed
    model = with_recipe(TrainConfig(corpus=str(corpus))).model_config(5).to_dict()
    model.pop("start_state")  # a model saved before start states existed (config.json's model section is validated)
    (run / ckpt.CONFIG).write_text(json.dumps({"format_version": 1, "model": model, "train": saved}))
    (run / ckpt.TRAINER_STATE).write_bytes(b"")  # resumable: a run with a checkpoint
    base = resumed_config(run, {})
    assert base.start_state == "zero" and base.reset_at_eos == 0.0
