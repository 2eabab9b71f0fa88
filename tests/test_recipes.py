"""Budget-aware recipes: the table, how a budget picks a row, options that override it, resume, info, recipes."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charlm import checkpoint as ckpt
from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.training import recipes
from charlm.training.config import TrainConfig
from charlm.training.recipes import RECIPE_FIELDS, TABLE, Budget, apply_recipe, pick, table
from tests.conftest import no_crash, tiny_args

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # checkpoints/latest lands here


def _pick(device: str = "cpu", level: str = "char", **budget: object) -> str:
    return pick(device, level, Budget(**budget))[0].name  # type: ignore[arg-type]


# -- the table --------------------------------------------------------------------------------------


def test_every_row_is_a_valid_config_and_every_budget_has_a_row() -> None:
    assert len({r.name for r in TABLE}) == len(TABLE)
    assert set(RECIPE_FIELDS) <= {f.name for f in fields(TrainConfig)}
    for row in TABLE:
        assert set(row.values) == set(RECIPE_FIELDS) and row.why and row.steps_per_min > 0
        TrainConfig(corpus="x", level=row.level, **row.values)  # validates the shape and the optimisation values
    for device in recipes.DEVICE_KINDS:
        for level in recipes.LEVEL_ROWS:
            bounds = [r.upto_min for r in recipes.rows(device, level)]
            assert bounds == sorted(bounds) and math.isinf(bounds[-1])  # in order, and open-ended


def test_different_budgets_pick_different_rows() -> None:
    assert _pick() == "cpu-char-10m"  # no budget: the default 10 minutes
    assert _pick(time_s=60.0) == "cpu-char-1m"
    assert _pick(time_s=600.0) == "cpu-char-10m"
    assert _pick(steps=100) == "cpu-char-1m"  # 100 steps at the row's nominal 700/min: under 2 minutes
    assert _pick(steps=5000) == "cpu-char-10m"
    assert _pick(time_s=3600.0, steps=100) == "cpu-char-1m"  # the first budget to run out counts
    # --epochs: the corpus size at one byte per char token, read at the row's batch x seq and rate
    one_minute = 272 * 32 * 128
    assert _pick(epochs=1.0, corpus_bytes=one_minute) == "cpu-char-1m"
    assert _pick(epochs=10.0, corpus_bytes=one_minute) == "cpu-char-10m"


def test_levels_and_devices_have_their_rows() -> None:
    assert _pick(level="word", time_s=60.0) == _pick(level="word", time_s=180.0) == "cpu-word-3m"
    assert _pick(level="word", time_s=600.0) == "cpu-word-10m"
    assert _pick(level="bpe", time_s=60.0) == _pick(level="unigram", time_s=60.0) == "cpu-char-1m"
    assert _pick(device="cuda", time_s=60.0) == "cuda-char"
    assert _pick(device="cuda", level="word") == "cpu-word-10m"  # no GPU word row yet: the CPU's
    with pytest.raises(CharlmError, match="unknown device kind 'tpu'"):
        _pick(device="tpu")
    assert {r["level"] for r in table(level="bpe")} == {"char"}
    assert {r["device"] for r in table(device="cuda")} == {"cuda"}


# -- options override the recipe, the same command gives the same config -------------------------


def test_explicit_options_override_the_recipe() -> None:
    given = {"corpus": "c.txt", "time": 60.0, "hidden": 64, "dropout": 0.3, "tie_weights": False}
    filled = apply_recipe(given, "cpu")
    short = next(r for r in TABLE if r.name == "cpu-char-1m")
    assert (filled["hidden"], filled["dropout"], filled["tie_weights"]) == (64, 0.3, False)
    assert filled["layers"] == short.values["layers"] and filled["lr"] == short.values["lr"]
    assert filled["recipe"]["name"] == "cpu-char-1m"
    assert not {"hidden", "dropout", "tie_weights"} & set(filled["recipe"]["set"])
    assert apply_recipe(given, "cpu") == filled  # the same command: the same config, not a measured speed
    everything = {name: short.values[name] for name in RECIPE_FIELDS}
    assert apply_recipe({"corpus": "c.txt", **everything}, "cpu")["recipe"]["set"] == []


def test_a_fine_tune_takes_only_optimisation_from_the_recipe() -> None:
    filled = apply_recipe({"corpus": "c.txt", "init_from": "base", "steps": 10}, "cpu")
    assert set(filled["recipe"]["set"]) == {"dropout", "lr", "weight_decay", "batch_size", "seq_len", "warmup"}


def test_the_recipe_record_is_checked() -> None:
    with pytest.raises(CharlmError, match="recipe record must be a mapping"):
        TrainConfig(corpus="x", recipe="cpu-char-1m")  # type: ignore[arg-type]
    assert TrainConfig.from_dict({"corpus": "x"}).recipe is None  # an old config.json: no recipe


# -- through the command line ----------------------------------------------------------------------


def _train(corpus: Path, run: Path, *extra: str) -> dict:
    args = ["train", str(corpus), "--out", str(run), *extra]
    result = runner.invoke(app, args)
    no_crash(result)
    assert result.exit_code == 0, result.output
    return json.loads((run / ckpt.CONFIG).read_text())["train"]


@pytest.mark.trains
def test_cli_records_the_recipe_and_resume_keeps_it(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _train(corpus, tmp_path / "a", *tiny_args(steps=3, eval_every=2))
    assert saved["recipe"]["name"] == "cpu-char-1m" and saved["hidden"] == 16  # --hidden given: it wins
    assert saved["dropout"] == 0.0 and "dropout" in saved["recipe"]["set"] and "hidden" not in saved["recipe"]["set"]
    again = _train(corpus, tmp_path / "b", *tiny_args(steps=3, eval_every=2))
    assert {**again, "out": None} == {**saved, "out": None}  # the same command, the same configuration
    # The table changes (a new release): a resumed run keeps what it was trained with.
    changed = tuple(replace(r, values={**r.values, "dropout": 0.4}, name=f"{r.name}-v2") for r in TABLE)
    monkeypatch.setattr(recipes, "TABLE", changed)
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "a"), "--steps", "5"])
    assert result.exit_code == 0, result.output
    resumed = json.loads((tmp_path / "a" / ckpt.CONFIG).read_text())
    assert resumed["summary"]["step"] == 5
    assert {**resumed["train"], "steps": 3} == saved  # only the budget changed
    info = runner.invoke(app, ["info", "--model", str(tmp_path / "a")])
    assert "cpu-char-1m" in info.output and "updates matter more" in info.output
    fresh = _train(corpus, tmp_path / "c", *tiny_args(steps=3, eval_every=2))
    assert (fresh["recipe"]["name"], fresh["dropout"]) == ("cpu-char-1m-v2", 0.4)  # a new run: the new table


def test_a_library_run_records_its_recipe_like_the_command_line(tiny_model: Path) -> None:
    result = runner.invoke(app, ["info", "--model", str(tiny_model)])
    assert result.exit_code == 0 and "recipe" in result.output and "cpu-char-1m" in result.output


@pytest.mark.trains
def test_word_level_takes_the_word_recipe(corpus: Path, tmp_path: Path) -> None:
    saved = _train(corpus, tmp_path / "w", "--level", "word", *tiny_args(steps=2, eval_every=2))
    word = next(r for r in TABLE if r.name == "cpu-word-3m")  # 2 steps: the shortest word recipe
    assert saved["recipe"]["name"] == "cpu-word-3m" and "softmax" in saved["recipe"]["set"]
    assert (saved["tie_weights"], saved["lr"]) == (word.values["tie_weights"], word.values["lr"])
    assert word.values["softmax"] == "adaptive" and saved["softmax"] == "full"  # a small vocabulary: the full head


@pytest.mark.parametrize(
    "bad",
    [["--hidden", "0"], ["--dropout", "1.5"], ["--lr", "0"], ["--batch-size", "x"], ["--arch", "transformer"]],
)
def test_bad_values_are_still_refused_in_one_line(bad: list[str], corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(corpus), "--out", str(tmp_path / "r"), "--steps", "1", *bad])
    no_crash(result)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_the_recipes_command_lists_the_table() -> None:
    result = runner.invoke(app, ["recipes", "--json"])
    assert result.exit_code == 0
    listed = [json.loads(line) for line in result.output.splitlines()]
    assert [r["name"] for r in listed] == [r.name for r in TABLE]
    assert listed[0]["from_min"] == 0.0 and listed[1]["from_min"] == listed[0]["upto_min"]
    shown = runner.invoke(app, ["recipes", "--device", "cpu", "--level", "word"])
    assert shown.exit_code == 0 and "cpu-word-10m" in shown.output and "cpu-char-1m" not in shown.output
    assert runner.invoke(app, ["recipes", "--device", "tpu"]).exit_code == 2


def test_train_help_says_which_options_come_from_the_recipe() -> None:
    text = " ".join(runner.invoke(app, ["train", "--help"], terminal_width=400).output.split())
    assert "charlm recipes" in text
    assert text.count("[default: from the recipe]") == len(RECIPE_FIELDS)
