"""Text in, training batches out: reading corpora safely, splitting, and TBPTT windows.

The token stream is cut into ``B`` parallel rows and read left to right in windows of ``T``
tokens, so the hidden state at the end of one window is the right start for the next::

    ids:  a b c d e f g h i j k l m n o p q r s t u v w x      (N tokens)
    B=4:  row 0: a b c d e f  | row 1: g h i j k l | row 2: m n o p q r | row 3: s t u v w x
    T=2:  window 0 = x[:, 0:2] -> y[:, 1:3];  window 1 = x[:, 2:4] -> y[:, 3:5]; ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from charlm.errors import CharlmError


def batchify(ids: Tensor | np.ndarray, batch: int) -> Tensor | np.ndarray:
    """Cut a 1-D id array into ``batch`` equal rows, dropping the remainder: (N,) -> (B, N//B).

    A NumPy memmap stays a memmap view, so a huge corpus is never copied into memory.
    """
    length = len(ids) // batch
    return ids[: length * batch].reshape(batch, length)  # (B, L)


@dataclass
class WindowStream:
    """TBPTT windows over a ``(B, L)`` id array (tensor or memmap), read in order; ``pos`` makes it resumable."""

    data: Tensor | np.ndarray  # (B, L)
    seq_len: int
    pos: int = 0
    epoch: int = 0
    device: torch.device | str | None = None

    @property
    def windows_per_epoch(self) -> int:
        return max(1, (self.data.shape[1] - 2) // self.seq_len + 1)

    @property
    def numel(self) -> int:
        return int(self.data.shape[0] * self.data.shape[1])

    def _cut(self, start: int, stop: int) -> Tensor:
        part = self.data[:, start:stop]  # (B,T)
        if isinstance(part, np.ndarray):
            part = torch.from_numpy(part.astype(np.int64))  # only this window leaves the memmap
        return part.to(self.device) if self.device is not None else part

    def next(self) -> tuple[Tensor, Tensor, bool]:
        """The next (x (B,T), y (B,T)) window and whether it starts a new epoch (reset state)."""
        length = self.data.shape[1]
        if self.pos >= length - 1:
            self.pos = 0
            self.epoch += 1
        starts_epoch = self.pos == 0
        t = min(self.seq_len, length - 1 - self.pos)
        x = self._cut(self.pos, self.pos + t)  # (B,T)
        y = self._cut(self.pos + 1, self.pos + 1 + t)  # (B,T)
        self.pos += t
        return x, y, starts_epoch

    def windows(self) -> Iterator[tuple[Tensor, Tensor]]:
        """One pass over the data (for evaluation), from the start."""
        length = self.data.shape[1]
        for pos in range(0, length - 1, self.seq_len):
            t = min(self.seq_len, length - 1 - pos)
            yield self._cut(pos, pos + t), self._cut(pos + 1, pos + 1 + t)


def to_tensor(ids: np.ndarray) -> Tensor:
    """Token ids as an int64 tensor (the dtype nn.Embedding wants)."""
    return torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))


def held_out(n_tokens: int, val_fraction: float, val_tokens: int | None = None) -> int:
    """How many tokens the end of an ``n_tokens`` stream gives validation: ``val_fraction`` of it, at most ``val_tokens``.

    The cap keeps validation from growing with the corpus (a 1 GB text's 5% would be 50M tokens to
    score at every evaluation); None (runs saved before the cap existed) is the fraction alone.
    """
    if not 0.0 < val_fraction < 0.5:
        raise CharlmError("--val-fraction must be between 0 and 0.5")
    n_val = max(2, int(n_tokens * val_fraction))
    return n_val if val_tokens is None else max(2, min(n_val, val_tokens))


def split_ids(ids: np.ndarray, val_fraction: float, val_tokens: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hold out the end of the token stream for validation (:func:`held_out` tokens); views, never copies."""
    n_val = held_out(len(ids), val_fraction, val_tokens)
    return ids[:-n_val], ids[-n_val:]


def check_trainable(n_tokens: int, batch_size: int, what: str = "corpus", total: int | None = None) -> None:
    """Refuse a token stream too short to fill one batch of two-token windows (``total``: before the val split)."""
    if n_tokens < 2 * batch_size + 1:
        split = f" (of {total} in all; the rest is validation)" if total is not None and total != n_tokens else ""
        raise CharlmError(
            f"the {what} has {n_tokens} tokens to train on{split}, too few for one batch of {batch_size} rows "
            f"(at least {2 * batch_size + 1}); give more text or lower --batch-size"
        )
