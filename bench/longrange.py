"""A synthetic long-range memory benchmark: reproduce a symbol seen K steps earlier.

Each sequence is ``s n n ... n ?`` (length K + 1): a signal symbol ``s`` (one of ``--symbols``), K - 1
noise symbols drawn from another alphabet, and a query mark; the model must output ``s`` after the
query. Only that last prediction is trained and scored, so the gradient has to cross all K steps,
which is the seed notes' long-range dependency problem in its plainest form. Chance is 1/symbols.

For each architecture and each K (ascending), a fresh model trains for a fixed budget of steps; it
has *learned* K when its accuracy on fresh sequences reaches ``--target`` (checked every 25 steps,
stopping early). The table reports the largest K learned (stopping at the first K it fails) and the
steps it needed. Run: ``python -m bench.longrange`` (``--quick`` for a one-minute smoke run).

``--speed`` instead measures training throughput (forward + backward tokens/s) of every architecture
as a ratio to the fused LSTM, interleaving the architectures in one process so machine load cancels.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from charlm.models.base import build_model
from charlm.models.config import ModelConfig

DEFAULT_ARCHS = (
    "rnn",
    "rnn-relu",
    "lstm",
    "gru",
    "rnn-cell",
    "lstm-cell",
    "gru-cell",
    "lstm-peephole",
    "lstm-cifg",
    "lstm-layernorm",
    "clockwork",
)
DEFAULT_KS = (5, 10, 20, 50, 100, 200)


@dataclass(frozen=True)
class Task:
    """The recall-after-K task: ``symbols`` signals, ``noise`` distractors, one query mark."""

    symbols: int = 4
    noise: int = 4

    @property
    def vocab(self) -> int:
        return self.symbols + self.noise + 1

    def batch(self, size: int, k: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``(inputs (B, K+1), targets (B,))``."""
        signal = torch.randint(0, self.symbols, (size,), generator=generator)  # (B,)
        noise = torch.randint(self.symbols, self.symbols + self.noise, (size, k - 1), generator=generator)  # (B,K-1)
        query = torch.full((size, 1), self.vocab - 1)  # (B,1)
        return torch.cat([signal[:, None], noise, query], dim=1), signal


@dataclass(frozen=True)
class Outcome:
    arch: str
    k: int
    learned: bool
    steps: int
    accuracy: float
    seconds: float


def accuracy(model: torch.nn.Module, task: Task, k: int, generator: torch.Generator, size: int = 256) -> float:
    x, y = task.batch(size, k, generator)
    with torch.no_grad():
        logits, _ = model(x)  # (B,K+1,V)
    return float((logits[:, -1, : task.symbols].argmax(-1) == y).float().mean())


def attempt(arch: str, k: int, task: Task, steps: int, hidden: int, lr: float, target: float, seed: int) -> Outcome:
    """Train a fresh model on recall-after-``k`` for at most ``steps`` steps."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(ModelConfig(vocab_size=task.vocab, arch=arch, layers=1, hidden=hidden, embed=16))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    started, acc, step = time.perf_counter(), 0.0, 0
    for step in range(1, steps + 1):
        x, y = task.batch(32, k, generator)
        logits, _ = model(x)  # (B,K+1,V)
        loss = F.cross_entropy(logits[:, -1], y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 25 == 0:
            acc = accuracy(model.eval(), task, k, generator)
            model.train()
            if acc >= target:
                break
    return Outcome(arch, k, acc >= target, step, acc, time.perf_counter() - started)


def run(
    archs: Sequence[str], ks: Sequence[int], steps: int, hidden: int, lr: float, target: float, seed: int
) -> list[Outcome]:
    outcomes = []
    for arch in archs:
        for k in ks:
            outcome = attempt(arch, k, Task(), steps, hidden, lr, target, seed)
            outcomes.append(outcome)
            print(json.dumps(asdict(outcome)), flush=True)
            if not outcome.learned:
                break
    return outcomes


def table(outcomes: Sequence[Outcome], ks: Sequence[int]) -> str:
    """Markdown: per architecture, the largest K learned and the steps each K took (x: failed)."""
    lines = [
        "| arch | largest K learned | " + " | ".join(f"K={k}" for k in ks) + " | seconds |",
        "|---|---|" + "---|" * len(ks) + "---|",
    ]
    for arch in dict.fromkeys(o.arch for o in outcomes):
        rows = {o.k: o for o in outcomes if o.arch == arch}
        best = max((o.k for o in rows.values() if o.learned), default=0)
        cells = [
            (str(rows[k].steps) if rows[k].learned else f"x ({rows[k].accuracy:.2f})") if k in rows else "-" for k in ks
        ]
        seconds = sum(o.seconds for o in rows.values())
        lines.append(f"| {arch} | {best or 'none'} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    return "\n".join(lines)


def speed(archs: Sequence[str], hidden: int = 256, batch: int = 32, seq: int = 64, reps: int = 5) -> dict[str, float]:
    """Median forward+backward tokens/s per architecture (vocab 65, 2 layers), measured interleaved."""
    torch.manual_seed(0)
    models = {a: build_model(ModelConfig(vocab_size=65, arch=a, layers=2, hidden=hidden, embed=64)) for a in archs}
    x = torch.randint(0, 65, (batch, seq + 1))
    times: dict[str, list[float]] = {a: [] for a in archs}
    for _ in range(reps + 1):  # the first round warms up and is dropped
        for arch, model in models.items():
            started = time.perf_counter()
            logits, _ = model(x[:, :-1])  # (B,T,V)
            F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten()).backward()
            times[arch].append(time.perf_counter() - started)
    return {a: batch * seq / sorted(t[1:])[len(t[1:]) // 2] for a, t in times.items()}


def speed_table(rates: dict[str, float], reference: str = "lstm") -> str:
    lines = ["| arch | tokens/s (fwd+bwd) | ratio to fused lstm |", "|---|---|---|"]
    for arch, rate in rates.items():
        lines.append(f"| {arch} | {rate:,.0f} | {rate / rates[reference]:.2f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(DEFAULT_ARCHS), help="comma-separated architectures")
    parser.add_argument("--ks", default=",".join(map(str, DEFAULT_KS)), help="comma-separated distances K")
    parser.add_argument("--steps", type=int, default=1000, help="training budget per (arch, K), batch 32")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--target", type=float, default=0.9, help="accuracy that counts as learned (chance 0.25)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="rnn, lstm, gru; K up to 20; 150 steps")
    parser.add_argument("--speed", action="store_true", help="measure tokens/s against the fused LSTM instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.speed:
        archs = args.archs.split(",")
        print(speed_table(speed(["lstm"] + [a for a in archs if a != "lstm"])))
        return
    archs, ks, steps = args.archs.split(","), [int(k) for k in args.ks.split(",")], args.steps
    if args.quick:
        archs, ks, steps = ["rnn", "lstm", "gru"], [k for k in ks if k <= 20], 150
    outcomes = run(archs, ks, steps, args.hidden, args.lr, args.target, args.seed)
    print(table(outcomes, ks))


if __name__ == "__main__":
    main()
