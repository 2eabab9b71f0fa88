"""The plain PyTorch baselines charlm is measured against (what a user would otherwise write).

A char/word LSTM as nn.Embedding + nn.LSTM + nn.Linear, trained with AdamW and truncated BPTT
with carried state in fp32; and sampling by calling nn.LSTM once per token.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class RefLSTM(nn.Module):
    """ids (B,T) -> logits (B,T,V), state."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        y, state = self.rnn(self.embed(ids), state)  # (B,T,H)
        return self.head(y), state  # (B,T,V)


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings are real (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ReferenceSteps:
    """The plain loop as a contender that runs ``n`` more TBPTT steps over ``rows (B, L)`` on demand (fp32)."""

    def __init__(
        self,
        rows: Tensor,
        vocab: int,
        embed: int,
        hidden: int,
        layers: int,
        seq_len: int,
        lr: float = 3e-3,
        seed: int = 1234,
    ) -> None:
        torch.manual_seed(seed)
        self.rows, self.seq_len, self.vocab = rows, seq_len, vocab
        self.model = RefLSTM(vocab, embed, hidden, layers).to(rows.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
        self.state: tuple[Tensor, Tensor] | None = None
        self.pos = 0
        self.loss = torch.zeros(())
        self.tokens_per_step = rows.size(0) * seq_len

    def __call__(self, steps: int) -> None:
        rows, seq_len = self.rows, self.seq_len
        for _ in range(steps):
            if self.pos + seq_len + 1 > rows.size(1):
                self.pos, self.state = 0, None
            x, y = rows[:, self.pos : self.pos + seq_len], rows[:, self.pos + 1 : self.pos + seq_len + 1]  # (B,T)
            self.pos += seq_len
            logits, state = self.model(x, self.state)  # (B,T,V)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            self.state = (state[0].detach(), state[1].detach())
            self.loss = loss.detach()
        sync(rows.device)


def train_reference(
    rows: Tensor,
    vocab: int,
    embed: int,
    hidden: int,
    layers: int,
    seq_len: int,
    steps: int,
    warm: int = 2,
    lr: float = 3e-3,
    seed: int = 1234,
) -> dict[str, float]:
    """Train ``steps`` TBPTT windows over ``rows (B, L)`` in fp32; tokens/s after ``warm`` steps."""
    ref = ReferenceSteps(rows, vocab, embed, hidden, layers, seq_len, lr, seed)
    ref(warm)
    started = time.perf_counter()
    ref(steps - warm)
    elapsed = time.perf_counter() - started
    return {"tokens_per_s": ref.tokens_per_step * (steps - warm) / elapsed, "train_loss": float(ref.loss)}


@torch.no_grad()
def sample_reference(
    vocab: int, embed: int, hidden: int, layers: int, batch: int, length: int, device: torch.device
) -> float:
    """Tokens/s drawing with one nn.LSTM call per token (the naive loop)."""
    model = RefLSTM(vocab, embed, hidden, layers).to(device).eval()
    ids = torch.zeros(batch, 1, dtype=torch.long, device=device)
    state = None
    started = time.perf_counter()
    for _ in range(length):
        logits, state = model(ids, state)  # (B,1,V)
        ids = torch.multinomial(logits[:, -1].softmax(-1), 1)  # (B,1)
    sync(device)
    return batch * length / (time.perf_counter() - started)
