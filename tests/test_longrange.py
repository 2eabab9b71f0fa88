"""The synthetic long-range benchmark: the task is what it says, and a tiny run reports figures."""

from __future__ import annotations

import torch

from bench.longrange import Outcome, Task, attempt, speed, speed_table, table


def test_task_puts_the_signal_k_steps_before_the_query() -> None:
    task = Task(symbols=4, noise=3)
    x, y = task.batch(8, 6, torch.Generator().manual_seed(0))
    assert x.shape == (8, 7)
    assert torch.equal(x[:, 0], y)
    assert bool((x[:, 1:6] >= 4).all() and (x[:, 1:6] < 7).all())
    assert bool((x[:, -1] == task.vocab - 1).all())


def test_gru_learns_a_short_distance_quickly() -> None:
    outcome = attempt("gru", 3, Task(), steps=200, hidden=16, lr=1e-2, target=0.9, seed=0)
    assert outcome.learned and outcome.steps <= 200


def test_table_reports_the_largest_k_learned() -> None:
    rows = [Outcome("rnn", 5, True, 50, 1.0, 0.1), Outcome("rnn", 10, False, 100, 0.3, 0.2)]
    text = table(rows, [5, 10, 20])
    assert "| rnn | 5 | 50 | x (0.30) | - |" in text


def test_speed_reports_ratios_to_the_fused_lstm() -> None:
    rates = speed(["lstm", "lstm-cell"], hidden=8, batch=2, seq=4, reps=1)
    assert set(rates) == {"lstm", "lstm-cell"} and all(r > 0 for r in rates.values())
    assert "| lstm | " in speed_table(rates) and "| 1.00 |" in speed_table(rates)
