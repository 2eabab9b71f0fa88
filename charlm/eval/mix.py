"""Network and n-gram in one distribution: ``p = (1 - lam) p_network + lam p_ngram``, per token.

The one place every command mixes the n-gram in (:mod:`charlm.ngram`):

* :meth:`NgramMix.lines`: sentences scored from a fresh state (``score``, ``eval --independent``);
* :meth:`NgramMix.stream`: a :class:`StreamMix` keeps each row's last N-1 tokens (``eval``);
* :meth:`NgramMix.next_logits`: the whole next-token distribution (``sample``; with ``lines=True``
  the per-line weights, for ``predict`` and the stateful scorer, which read from a sentence start).

``lam`` is one number, one per *matched context length* (how long a suffix of the history the
n-gram saw followed by a token in training, 0..N-1), or, the default since the gate, one per
*context class*: the matched length and how sure the n-gram is of that context (its back-off
weight, which its counts decide; :func:`charlm.ngram.model.context_class`). Each is a function of
the history only, so the mixture still sums to 1 over the vocabulary. Mixing happens in log space with ``lam = 0`` never reaching it:
a weight of 0 means no :class:`NgramMix` at all, so the network's numbers stay bit for bit. The
neural cache (:mod:`charlm.eval.cache`) mixes on top of this mixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from charlm.checkpoint import fingerprint
from charlm.errors import BadOption, CharlmError
from charlm.ngram.model import NgramModel
from charlm.ngram.store import load_ngram, read_meta
from charlm.ngram.tune import mix_logprobs
from charlm.options import check
from charlm.tokenizers import Tokenizer

AUTO = "auto"


def parse_weight(weight: str | float | None) -> str | float:
    """``auto`` (the stored weights), or a number in [0, 1] (0: the network alone, 1: the n-gram alone)."""
    if weight is None or (isinstance(weight, str) and weight.strip().lower() == AUTO):
        return AUTO
    value: float = check("ngram_weight", float(weight) if isinstance(weight, int) else weight)
    return value


@dataclass
class NgramMix:
    """An n-gram and its weights for line scoring and for streams (arrays: one per matched context length)."""

    ngram: NgramModel
    lines_weight: np.ndarray
    stream_weight: np.ndarray
    eos: int
    source: str = "model"
    classes: int = 1  # the weights are per context class (the gate: CLASSES), or per matched length (1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "order": self.ngram.order,
            "classes": self.classes,
            "lambda_lines": [round(float(x), 6) for x in self.lines_weight],
            "lambda_stream": [round(float(x), 6) for x in self.stream_weight],
        }

    def _weights(self, which: np.ndarray, matched: np.ndarray) -> np.ndarray:
        return which[np.minimum(matched, which.size - 1)]

    def lines(self, logp: Tensor, encoded: list[list[int]]) -> Tensor:
        """Mixed ln p (B,T) float64 of sentences ``encoded`` (each ending with ``<eos>``), from the network's ``logp``."""
        seqs = [np.asarray([self.eos, *ids], dtype=np.int64) for ids in encoded]
        starts = np.cumsum([0] + [s.size for s in seqs[:-1]])
        seq = np.concatenate(seqs)
        first = np.repeat(starts, [s.size for s in seqs])
        gram, matched = self.ngram.logprobs(seq, first, self.classes)
        out = logp.double().clone()  # (B,T)
        for row, (s, a) in enumerate(zip(seqs, starts, strict=True)):
            n = s.size - 1
            net = out[row, :n].numpy()
            w = self._weights(self.lines_weight, matched[a + 1 : a + 1 + n])
            out[row, :n] = torch.from_numpy(mix_logprobs(net, gram[a + 1 : a + 1 + n], w))
        return out

    def stream(self) -> StreamMix:
        return StreamMix(self)

    def next_logits(self, logits: Tensor, histories: list[list[int]], lines: bool = False) -> Tensor:
        """ln p (B,V) of the mixture after each row's history, from the network's ``logits (B,V)``.

        A history starts with the sentence's ``<eos>``; ``lines`` weighs with the per-line weights
        (those :meth:`lines` uses) instead of the streamed ones.
        """
        which = self.lines_weight if lines else self.stream_weight
        net = torch.log_softmax(logits.double(), -1).cpu().numpy()  # (B,V)
        keep = self.ngram.order - 1
        rows = []
        for r, history in enumerate(histories):
            context = np.asarray(history[-keep:] if keep else [], dtype=np.int64)
            p, matched = self.ngram.distribution(context, self.classes)
            w = float(self._weights(which, np.array(matched)))
            with np.errstate(divide="ignore"):
                rows.append(mix_logprobs(net[r], np.log(p), np.full(p.shape, w)))
        return torch.from_numpy(np.stack(rows)).to(device=logits.device, dtype=logits.dtype)  # (B,V)


class StreamMix:
    """The n-gram side of a streamed evaluation: each row remembers its last N-1 tokens (from ``<eos>``)."""

    def __init__(self, mix: NgramMix) -> None:
        self.mix = mix
        self.history: list[np.ndarray] = []

    def __call__(self, logp: Tensor, targets: Tensor) -> Tensor:
        """Mixed ln p (R,W), in ``logp``'s dtype, of the rows' next tokens ``targets (R,W)``.

        Padding after a row's end is scored too (the caller masks it) and only follows the row's end.
        """
        out = logp.double().clone().cpu()  # (R,W)
        keep = self.mix.ngram.order - 1
        if not self.history:
            self.history = [np.array([self.mix.eos], dtype=np.int64) for _ in range(targets.shape[0])]
        for r, part in enumerate(targets.cpu().numpy()):
            seq = np.concatenate([self.history[r], np.asarray(part, dtype=np.int64)])
            gram, matched = self.mix.ngram.logprobs(seq, np.zeros(seq.size, dtype=np.int64), self.mix.classes)
            n, skip = part.size, self.history[r].size
            w = self.mix._weights(self.mix.stream_weight, matched[skip:])
            out[r, :n] = torch.from_numpy(mix_logprobs(out[r, :n].numpy(), gram[skip:], w))
            self.history[r] = seq[-keep:] if keep else seq[:0]
        return out.to(device=logp.device, dtype=logp.dtype)  # float32, as with the neural cache on top


_WEIGHTS = {"gate": "lambda_by_class", "context": "lambda_by_context", "fixed": "lambda"}


def _stored(meta: dict[str, Any], which: str, mode: str) -> np.ndarray:
    tuned = meta.get(which)
    if not tuned:
        raise CharlmError("this model's n-gram has no tuned weight (built without validation text); give a number")
    return np.atleast_1d(np.asarray(tuned[_WEIGHTS.get(mode, "lambda")], dtype=np.float64))


def resolve(
    directory: Path, weight: str | float | None, tokenizer: Tokenizer, vocab_size: int, arpa: str | Path | None = None
) -> NgramMix | None:
    """The mixture a command asked for, or None for the network alone (weight 0, or no n-gram with auto).

    ``arpa`` interpolates an external ARPA model (:mod:`charlm.ngram.arpa`) instead of the model's
    own; it has no stored weight, so ``auto`` uses the model's tuned one when there is one.
    """
    value = parse_weight(weight)
    if value == 0.0:
        return None
    meta = read_meta(directory)
    if value == AUTO and meta is None and arpa is None:
        return None  # a model without an n-gram (e.g. trained before they existed) is the network alone
    if arpa is not None:
        from charlm.ngram.arpa import vocabulary_words
        from charlm.ngram.arpa_read import read_arpa

        words = vocabulary_words(tokenizer.token_str, vocab_size, tokenizer.unk_id, tokenizer.eos_id)
        ngram, source = read_arpa(arpa, words), str(arpa)
    else:
        if meta is None:
            raise CharlmError(f"{directory} has no n-gram; build one with: charlm ngram build --model {directory}")
        if meta.get("vocab_size") != vocab_size or meta.get("tokenizer") not in (None, fingerprint(tokenizer)):
            raise CharlmError(f"{directory}/ngram.json does not match this model's vocabulary; rebuild the n-gram")
        ngram, source = load_ngram(directory), "model"
    if value == AUTO:
        if meta is None:
            raise BadOption("an external --ngram has no tuned weight here; give --ngram-weight a number")
        mode = meta.get("mode", "context")
        lines, stream = _stored(meta, "lines", mode), _stored(meta, "stream", mode)
        classes = int(meta.get("classes", 1)) if mode == "gate" else 1
    else:
        lines = stream = np.array([float(value)])
        classes = 1
    return NgramMix(ngram, lines, stream, tokenizer.eos_id, source, classes)
