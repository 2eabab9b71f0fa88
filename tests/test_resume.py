"""Exact resume, fine-tuning, Ctrl-C, and a run killed with SIGKILL again and again that still ends bitwise equal."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from charlm import checkpoint as ckpt
from charlm.errors import CharlmError
from charlm.training.config import TrainConfig
from charlm.training.loop import resume, train
from tests.conftest import TINY as TINY_CONFIG
from tests.conftest import TINY_TEXT, tiny_args

ROOT = Path(__file__).resolve().parents[1]
TINY = {**TINY_CONFIG, "hidden": 32, "eval_every": 10, "dropout": 0.1}  # dropout: resume must restore its RNG


def config(tmp: Path, corpus: Path, name: str, **kw: object) -> TrainConfig:
    return TrainConfig(corpus=str(corpus), out=str(tmp / name), checkpoints=str(tmp / "ck"), **{**TINY, **kw})


def same_weights(a: Path, b: Path, name: str = ckpt.LAST) -> bool:
    wa, wb = load_file(a / name), load_file(b / name)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["constant", "plateau"])
@pytest.mark.trains
def test_steps_n_then_resume_to_2n_is_bitwise_equal(schedule: str, corpus: Path, tmp_path: Path) -> None:
    train(config(tmp_path, corpus, "straight", steps=40, schedule=schedule, save_every=7))
    train(config(tmp_path, corpus, "split", steps=20, schedule=schedule, save_every=7))
    result = resume(tmp_path / "split", {"steps": 40})
    assert result.steps == 40
    assert same_weights(tmp_path / "straight", tmp_path / "split")
    assert same_weights(tmp_path / "straight", tmp_path / "split", ckpt.BEST)
    straight = ckpt.load_trainer_state(tmp_path / "straight")
    split = ckpt.load_trainer_state(tmp_path / "split")
    assert straight["tracker"] == split["tracker"] and straight["rng"]["python"] == split["rng"]["python"]


@pytest.mark.slow
@pytest.mark.trains
def test_interrupted_cosine_run_resumes_bitwise(corpus: Path, tmp_path: Path) -> None:
    """A cosine run stopped mid-way (by a signal) and resumed equals the uninterrupted run."""
    train(config(tmp_path, corpus, "straight", steps=30, save_every=100))

    def stop_at_13(event: dict) -> None:
        if event["event"] == "step" and event["step"] == 13:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(CharlmError, match="charlm train --resume") as info:
        train(config(tmp_path, corpus, "split", steps=30, save_every=100), stop_at_13)
    assert info.value.exit_code == 130
    assert ckpt.load_trainer_state(tmp_path / "split")["step"] == 13
    resume(tmp_path / "split")
    assert same_weights(tmp_path / "straight", tmp_path / "split")
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # nothing logged twice after the resume


@pytest.mark.trains
def test_resume_refuses_changed_model_and_needs_a_run(corpus: Path, tmp_path: Path) -> None:
    train(config(tmp_path, corpus, "run", steps=5))
    with pytest.raises(CharlmError, match="--hidden 64 differs"):
        resume(tmp_path / "run", {"hidden": 64, "steps": 10})
    with pytest.raises(CharlmError, match="differs from the run"):
        resume(tmp_path / "run", {"corpus": str(tmp_path / "other.txt")})
    with pytest.raises(CharlmError, match="already holds a model"):
        train(config(tmp_path, corpus, "run", steps=5))


@pytest.mark.trains
def test_init_from_fine_tunes_and_refuses_a_foreign_text(tiny_model: Path, corpus: Path, tmp_path: Path) -> None:
    result = train(config(tmp_path, corpus, "tuned", steps=10, init_from=str(tiny_model), hidden=7))
    saved = json.loads((result.run_dir / ckpt.CONFIG).read_text())
    assert saved["model"]["hidden"] == 64  # the source model's shape, not --hidden
    assert (result.run_dir / "tokenizer.json").read_text() == (tiny_model / "tokenizer.json").read_text()
    assert result.best_val_loss < 2.0  # starts from a trained model, far below a fresh one after 10 steps
    foreign = tmp_path / "greek.txt"
    foreign.write_text("αβγδ εζηθ ικλμ\n" * 200, encoding="utf-8")
    with pytest.raises(CharlmError, match="does not suit the tokenizer"):
        train(config(tmp_path, foreign, "bad", steps=5, init_from=str(tiny_model)))


@pytest.mark.slow
@pytest.mark.trains
def test_non_finite_steps_are_skipped_then_rolled_back(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import charlm.models.base as trainer_mod  # the training loss is computed there (LanguageModel.loss_from)

    real = trainer_mod.F.cross_entropy
    calls = {"n": 0}
    poisoned = {12, 20, 21, 22}  # one lone NaN, then three in a row

    def flaky(*args: object, **kwargs: object) -> torch.Tensor:
        loss = real(*args, **kwargs)
        if kwargs.get("reduction", "mean") == "mean":  # training steps, not evaluation
            calls["n"] += 1
            if calls["n"] in poisoned:
                return loss * float("nan")
        return loss

    monkeypatch.setattr(trainer_mod.F, "cross_entropy", flaky)
    result = train(config(tmp_path, corpus, "nan", steps=40, save_every=10, schedule="constant"))
    events = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    notices = [e for e in events if e["event"] == "notice"]
    assert [e["kind"] for e in notices].count("skip") == 4
    rollback = [e for e in notices if e["kind"] == "rollback"]
    assert len(rollback) == 1 and "rolled back to step 20" in rollback[0]["message"]
    state = ckpt.load_trainer_state(result.run_dir)
    assert state["guard"]["lr_scale"] == 0.5 and state["guard"]["rollbacks"] == 1
    assert all(torch.isfinite(w).all() for w in load_file(result.run_dir / ckpt.LAST).values())


@pytest.mark.slow
@pytest.mark.trains
def test_patience_stops_early(corpus: Path, tmp_path: Path) -> None:
    result = train(config(tmp_path, corpus, "p", steps=400, lr=1e-9, warmup=0, patience=2, eval_every=5))
    assert result.steps < 400
    events = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any(e["event"] == "notice" and e["kind"] == "early-stop" for e in events)


@pytest.mark.slow
@pytest.mark.trains
def test_metrics_fields_loss_png_and_plot_command(
    cli: CliRunner, tiny_model: Path, corpus: Path, tmp_path: Path
) -> None:
    from charlm.cli.app import app

    result = train(config(tmp_path, corpus, "m", steps=20, log_every=5))
    events = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    step = next(e for e in events if e["event"] == "step")
    for key in ("step", "loss", "train_loss", "lr", "grad_norm", "clipped", "skipped", "tokens_per_s", "time"):
        assert key in step, key
    evaluation = next(e for e in events if e["event"] == "eval")
    for key in ("val_loss", "val_bpc", "lr", "time"):
        assert key in evaluation, key
    assert (result.run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"
    out = tmp_path / "both.png"
    ran = cli.invoke(app, ["plot", str(result.run_dir), str(tiny_model), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "Example: charlm plot" in cli.invoke(app, ["plot", "--help"]).output


def test_save_every_minutes_parses(corpus: Path, tmp_path: Path) -> None:
    from charlm.training.config import parse_save_every

    assert parse_save_every("200,10m") == (200, 600.0)
    assert parse_save_every("90s") == (None, 90.0)
    with pytest.raises(CharlmError):
        parse_save_every("often")


def _cli(args: list[str], **kw: object) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHARLM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "charlm", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _train_args(corpus: Path, out: Path) -> list[str]:
    return ["train", str(corpus), "--out", str(out), *tiny_args(hidden=32, steps=120, save_every=5, eval_every=20)]


@pytest.mark.slow
@pytest.mark.trains(subprocess=True)
def test_sigkill_at_random_moments_then_resume_ends_bitwise_equal(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    straight = _cli(_train_args(corpus, tmp_path / "straight"), cwd=tmp_path)
    assert straight.wait(timeout=120) == 0, straight.stderr.read() if straight.stderr else ""
    rng, kills, run = random.Random(4), 0, tmp_path / "killed"
    first, resumed_at = True, []
    while True:
        args = _train_args(corpus, run) + ([] if first else ["--resume"])
        proc = _cli(args, cwd=tmp_path)
        first = False
        if kills < 4:
            started, deadline = time.time(), time.monotonic() + 60
            state = run / ckpt.TRAINER_STATE
            while time.monotonic() < deadline and not (state.exists() and state.stat().st_mtime > started):
                time.sleep(0.01)  # this process has written a checkpoint: it is training
            time.sleep(rng.uniform(0.0, 0.6))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        code = proc.wait(timeout=120)
        if code == 0:
            break
        assert code == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
        resumed_at.append(ckpt.load_trainer_state(run)["step"])  # whatever the moment, the last checkpoint loads
    print(f"SIGKILLed {kills} times; resumed from steps {resumed_at}")
    assert kills >= 3
    assert same_weights(tmp_path / "straight", run)
    assert same_weights(tmp_path / "straight", run, ckpt.BEST)


@pytest.mark.slow
@pytest.mark.trains(subprocess=True)
def test_ctrl_c_saves_and_prints_the_resume_command(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TINY_TEXT * 3, encoding="utf-8")
    run = tmp_path / "run"
    args = _train_args(corpus, run)
    args[args.index("--steps") + 1] = "100000"
    proc = _cli(args, cwd=tmp_path)
    while not (run / ckpt.TRAINER_STATE).exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert "Traceback" not in stderr
    assert last.endswith(f"resume with: charlm train --resume {run.resolve()}"), last
    step = ckpt.load_trainer_state(run)["step"]
    assert f"at step {step};" in last and step > 0


@pytest.mark.slow
@pytest.mark.trains
def test_resume_uses_the_cached_tokens_when_the_corpus_changed(corpus: Path, tmp_path: Path) -> None:
    train(config(tmp_path, corpus, "straight", steps=20, schedule="constant"))
    train(config(tmp_path, corpus, "split", steps=10, schedule="constant"))
    corpus.write_text("something else entirely\n" * 50, encoding="utf-8")
    resume(tmp_path / "split", {"steps": 20})
    assert same_weights(tmp_path / "straight", tmp_path / "split")
    corpus.unlink()
    assert resume(tmp_path / "split", {"steps": 25}).steps == 25  # the run directory is self-sufficient
