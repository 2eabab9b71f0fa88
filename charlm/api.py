"""The Python API: ``charlm.load(dir)`` returns a :class:`Model` that scores, evaluates and samples.

The CLI calls exactly these methods; they return plain dataclasses and never print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from charlm.checkpoint import load_model
from charlm.errors import CharlmError
from charlm.eval.beam import Beam, beam_search
from charlm.eval.bidirectional import (
    BidirectionalScore,
    is_bidirectional,
    refuse_sampling,
    score_both,
    score_both_sentences,
)
from charlm.eval.cache import CACHE_LAMBDA, CACHE_THETA, CacheConfig
from charlm.eval.corpus import CorpusScore, Progress, eval_file
from charlm.eval.mix import NgramMix, resolve
from charlm.eval.sample import Sample, TokenCallback, sample
from charlm.eval.score import Ranking, SentenceScore, rank, ranking, score_sentences
from charlm.io import read_text
from charlm.runtime import pick_device


class Model:
    """A trained language model with its tokenizer, ready to use."""

    def __init__(self, path: str | Path | None = None, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.module, self.tokenizer, self.config = load_model(path, self.device)
        self.path = Path(path) if path else Path("checkpoints/latest")
        self._mixes: dict[tuple[str, str], NgramMix | None] = {}

    def ngram_mix(self, weight: str | float = "auto", ngram: str | Path | None = None) -> NgramMix | None:
        """The n-gram mixture ``ngram_weight``/``ngram`` ask for (None: the network alone), loaded once.

        ``auto`` uses the weights tuned when the n-gram was built (none built: the network alone);
        a number in [0, 1] is a fixed weight; ``ngram`` names an ARPA file over the same vocabulary.
        """
        key = (str(weight), str(ngram))
        if key not in self._mixes:
            self._mixes[key] = resolve(self.path, weight, self.tokenizer, self.module.config.vocab_size, ngram)
        return self._mixes[key]

    def score(
        self,
        texts: str | Sequence[str],
        normalize: str = "total",
        per_token: bool = False,
        batch_size: int = 64,
        precision: str = "fp32",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> list[SentenceScore]:
        """Score sentences from a fresh state (``<eos>`` counted, start not), in input order.

        Each result carries ``rank`` (1 = best) and ``score`` under ``normalize``: total (nats),
        token (nats per token) or char (nats per character). ``precision="bf16"`` is faster on
        CPUs with bf16 support and approximate. ``ngram_weight``: see :meth:`ngram_mix`.
        """
        items = [texts] if isinstance(texts, str) else list(texts)
        mix = self.ngram_mix(ngram_weight, ngram)
        scores = score_sentences(
            self.module,
            self.tokenizer,
            items,
            per_token=per_token,
            batch_size=batch_size,
            precision=precision,
            ngram=mix,
        )
        return rank(scores, normalize)

    @property
    def bidirectional(self) -> bool:
        """Whether this is a ``--direction both`` model (score it with :meth:`score_both`)."""
        return is_bidirectional(self.module)

    def score_both(
        self,
        texts: str | Sequence[str] = (),
        file: str | Path | None = None,
        encoding: str = "utf-8",
        errors: str = "strict",
    ) -> list[BidirectionalScore]:
        """A ``--direction both`` model's forward, backward and mean log-probabilities.

        Sentences (each from a fresh state, ``<eos>`` counted, best mean first), or with ``file`` the
        whole file's text as one stream.
        """
        if file is not None:
            text = read_text(file, encoding, errors)
            return [replace(score_both(self.module, self.tokenizer, text, whole_file=True), text=str(file))]
        items = [texts] if isinstance(texts, str) else list(texts)
        return score_both_sentences(self.module, self.tokenizer, items)

    def rank(
        self,
        texts: Sequence[str],
        normalize: str = "total",
        per_token: bool = False,
        batch_size: int = 64,
        precision: str = "fp32",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> Ranking:
        """The sentences best first under ``normalize``, with the margin between the best two."""
        scores = self.score(texts, normalize, per_token, batch_size, precision, ngram_weight, ngram)
        return ranking(scores, normalize)

    def eval(
        self,
        path: str | Path,
        independent: bool = False,
        batch_size: int = 32,
        precision: str = "fp32",
        encoding: str = "utf-8",
        errors: str = "strict",
        progress: Progress | None = None,
        cache: int | None = None,
        cache_theta: float = CACHE_THETA,
        cache_lambda: float = CACHE_LAMBDA,
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> CorpusScore:
        """Perplexity, bits per char and OOV of a file: streamed (state carried) or line by line.

        The file is read in chunks, so it may be larger than memory; streamed evaluation runs up to
        ``batch_size`` parallel rows; ``progress(bytes_done, bytes_total)`` is called as it goes.
        ``cache=N`` mixes a neural cache of each row's last N steps into the streamed scores
        (:mod:`charlm.eval.cache`): ``p = (1 - cache_lambda) p_model + cache_lambda p_cache``, where
        p_model is the network mixed with the n-gram as ``ngram_weight`` says (:meth:`ngram_mix`).
        """
        settings = CacheConfig(cache, cache_theta, cache_lambda) if cache is not None else None
        return eval_file(
            self.module,
            self.tokenizer,
            path,
            independent=independent,
            batch_size=batch_size,
            precision=precision,
            encoding=encoding,
            errors=errors,
            progress=progress,
            cache=settings,
            ngram=self.ngram_mix(ngram_weight, ngram),
        )

    def sample(
        self,
        prime: str = "",
        length: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        num: int = 1,
        seed: int | None = None,
        until_eos: bool = False,
        stop: str | Sequence[str] = (),
        on_token: TokenCallback | None = None,
        precision: str = "fp32",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> list[Sample]:
        """Generate ``num`` continuations of ``prime`` (one batch); ``on_token(row, text)`` streams them.

        ``precision="bf16"`` steps the model with bf16 weight matrices: faster at large ``num`` on CPUs
        with bf16 support, approximate (a seed repeats exactly only within one precision).
        """
        refuse_sampling(self.module)  # a --direction both model cannot generate left to right
        stops = [stop] if isinstance(stop, str) else list(stop)
        return sample(
            self.module,
            self.tokenizer,
            prime,
            length,
            temperature,
            top_k,
            top_p,
            num,
            seed,
            until_eos,
            on_token,
            stops,
            precision,
            self.ngram_mix(ngram_weight, ngram),
        )

    def beam(
        self, prime: str = "", width: int = 5, length: int = 100, until_eos: bool = False, normalize: bool = False
    ) -> list[Beam]:
        """The ``width`` most probable continuations of ``prime`` by beam search, best first."""
        refuse_sampling(self.module)
        return beam_search(self.module, self.tokenizer, prime, width, length, until_eos, normalize)

    def build_ngram(self, order: int | None = None) -> dict[str, Any]:
        """Count the run's training ids (its corpus cache) into an interpolated modified Kneser-Ney n-gram.

        ``order`` defaults per level (6 char, 5 word, 4 subword). The mixing weights are tuned on the
        run's validation ids, per line and streamed; returns what ``ngram.json`` records.
        """
        from charlm.training.ngram import build_run_ngram

        refuse_sampling(self.module)  # a --direction both model has no left-to-right probabilities to mix
        meta = build_run_ngram(self.path, self.module, self.tokenizer, order, self.tokenizer.kind)
        self._mixes.clear()
        return meta

    def export_arpa(self, path: str | Path) -> dict[str, Any]:
        """Write the model's n-gram as an ARPA file (see :mod:`charlm.ngram.arpa`); returns its counts."""
        from charlm.ngram.arpa import vocabulary_words, write_arpa
        from charlm.ngram.store import load_ngram, read_meta

        if read_meta(self.path) is None:
            raise CharlmError(f"{self.path} has no n-gram; build one with: charlm ngram build --model {self.path}")
        ngram = load_ngram(self.path)
        words = vocabulary_words(
            self.tokenizer.token_str, ngram.vocab_size, self.tokenizer.unk_id, self.tokenizer.eos_id
        )
        write_arpa(ngram, Path(path), words)
        return {"path": str(path), "order": ngram.order, "ngrams": [int(k.size) for k in ngram.keys]}

    def info(self) -> dict[str, Any]:
        """What is inside the model directory."""
        return {"path": str(self.path), "parameters": self.module.num_parameters(), **self.config}


def load(path: str | Path | None = None, device: str = "auto") -> Model:
    """Load a model directory (default: checkpoints/latest)."""
    return Model(path, device)
