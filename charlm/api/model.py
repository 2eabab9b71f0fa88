"""The :class:`Model` ``charlm.load(dir)`` returns: it scores sentences and files, evaluates, samples and
looks into its embeddings; its component methods (prediction, the stateful scorer, rescoring) come
from :class:`charlm.api.component.Component`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charlm.api.component import Component
from charlm.checkpoint import load_model, resolve_model_dir
from charlm.errors import BadOption, CharlmError
from charlm.eval.beam import Beam, beam_search
from charlm.eval.bidirectional import (
    BidirectionalScore,
    is_bidirectional,
    refuse_sampling,
    score_both,
    score_both_sentences,
)
from charlm.eval.cache import cache_config
from charlm.eval.corpus import CorpusScore, Progress, eval_file
from charlm.eval.dynamic import DynamicConfig, open_dynamic
from charlm.eval.mix import NgramMix, resolve
from charlm.eval.neighbors import Neighbor
from charlm.eval.neighbors import analogy as solve_analogy
from charlm.eval.neighbors import neighbors as nearest
from charlm.eval.sample import Sample, TokenCallback, sample
from charlm.eval.score import Ranking, SentenceScore, rank, ranking, score_sentences
from charlm.io import read_text
from charlm.models.base import BidirectionalLM, LanguageModel
from charlm.runtime import pick_device
from charlm.tokenizers.unk import apply_unk_policy

if TYPE_CHECKING:
    from charlm.ngram.spelling import Spelling


class Model(Component):
    """A trained language model with its tokenizer, ready to use."""

    def __init__(self, path: str | Path | None = None, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.module, self.tokenizer, self.config = load_model(path, self.device)
        self.path = Path(path) if path else Path("checkpoints/latest")
        self.directory = resolve_model_dir(path)  # the resolved model directory (checkpoints/latest followed)

    def ngram_mix(self, weight: str | float = "auto", ngram: str | Path | None = None) -> NgramMix | None:
        """The n-gram mixture ``ngram_weight``/``ngram`` ask for (None: the network alone), loaded once.

        ``auto`` uses the weights tuned when the n-gram was built (none built: the network alone);
        a number in [0, 1] is a fixed weight; ``ngram`` names an ARPA file over the same vocabulary.
        """
        mixes: dict[tuple[str, str], NgramMix | None] = self.__dict__.setdefault("_mixes", {})
        key = (str(weight), str(ngram))
        if key not in mixes:
            mixes[key] = resolve(self.directory, weight, self.tokenizer, self.forward_lm.config.vocab_size, ngram)
        return mixes[key]

    @property
    def spelling(self) -> Spelling:
        """The character model that prices unknown words by their spelling (``unk="spell"``), built once."""
        from charlm.ngram.spelling import tokenizer_spelling

        if "_spelling" not in self.__dict__:
            apply_unk_policy(self.tokenizer, "", "spell")  # refuses char and subword models
            self.__dict__["_spelling"] = tokenizer_spelling(self.tokenizer)
        spelling: Spelling = self.__dict__["_spelling"]
        return spelling

    def build_ngram(self, order: int | None = None) -> dict[str, Any]:
        """Count the run's training ids (its corpus cache) into an interpolated modified Kneser-Ney n-gram.

        ``order`` defaults per level (6 char, 5 word, 4 subword); the mixing weights are tuned on the
        run's validation ids, per line and streamed. Returns what ``ngram.json`` records.
        """
        from charlm.training.ngram import build_run_ngram
        from charlm.writer import locked

        refuse_sampling(self.module)  # a --direction both model has no left-to-right probabilities to mix
        with locked(self.directory):  # not while a training run writes the directory
            meta = build_run_ngram(self.directory, self.forward_lm, self.tokenizer, order, self.tokenizer.kind)
        self.__dict__.pop("_mixes", None)
        return meta

    def export_arpa(self, path: str | Path) -> dict[str, Any]:
        """Write the model's n-gram as an ARPA file (:mod:`charlm.ngram.arpa`); returns its order and counts."""
        from charlm.ngram.arpa import export_model_arpa

        return export_model_arpa(self.directory, self.tokenizer, Path(path))

    def prepare(self, text: str, unk: str = "replace") -> str:
        """``text`` as the model reads it under the unknown-token policy ``unk``.

        replace: unknown characters/words become ``<unk>`` (text unchanged); skip: they are removed;
        error: raise :class:`~charlm.errors.CharlmError` naming them.
        """
        return apply_unk_policy(self.tokenizer, text, unk)

    def _texts(self, texts: str | Sequence[str], unk: str) -> list[str]:
        return [self.prepare(t, unk) for t in ([texts] if isinstance(texts, str) else texts)]

    def score(
        self,
        texts: str | Sequence[str],
        normalize: str = "total",
        per_token: bool = False,
        batch_size: int = 64,
        precision: str = "fp32",
        unk: str = "replace",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> list[SentenceScore]:
        """Score sentences from a fresh state (``<eos>`` counted, start not), in input order.

        Each result carries ``rank`` (1 = best) and ``score`` under ``normalize``: total (nats),
        token (nats per token) or char (nats per character). ``precision="bf16"`` is faster on
        CPUs with bf16 support and approximate. ``unk`` is the unknown-token policy (:meth:`prepare`).
        A ``--direction both`` model is scored by its forward half here; :meth:`score_both` gives both.
        ``ngram_weight``/``ngram`` mix in an n-gram (:meth:`ngram_mix`).
        """
        items = self._texts(texts, unk)
        mix = self.ngram_mix(ngram_weight, ngram)
        scores = score_sentences(
            self.forward_lm, self.tokenizer, items, per_token=per_token, batch_size=batch_size, precision=precision,
            ngram=mix, spelling=self.spelling if unk == "spell" else None,
        )  # fmt: skip
        return rank(scores, normalize)

    @property
    def forward_lm(self) -> LanguageModel:
        """The left-to-right language model: the model itself, or a bidirectional model's forward half."""
        return self.module.forward_lm if isinstance(self.module, BidirectionalLM) else self.module

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
        unk: str = "replace",
    ) -> list[BidirectionalScore]:
        """A ``--direction both`` model's forward, backward and mean log-probabilities.

        Sentences (each from a fresh state, ``<eos>`` counted, best mean first), or with ``file`` the
        whole file's text as one stream.
        """
        if file is not None:
            text = read_text(file, encoding, errors)
            return [replace(score_both(self.module, self.tokenizer, text, whole_file=True), text=str(file))]
        if unk == "spell":
            raise BadOption(
                "--unk spell scores left to right; score a --direction both model with replace, skip or error"
            )
        return score_both_sentences(self.module, self.tokenizer, self._texts(texts, unk))

    def rank(
        self,
        texts: Sequence[str],
        normalize: str = "total",
        per_token: bool = False,
        batch_size: int = 64,
        precision: str = "fp32",
        unk: str = "replace",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> Ranking:
        """The sentences best first under ``normalize``, with the margin between the best two."""
        scores = self.score(texts, normalize, per_token, batch_size, precision, unk, ngram_weight, ngram)
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
        cache_theta: float | None = None,
        cache_lambda: float | None = None,
        dynamic: DynamicConfig | bool | None = None,
        dynamic_stats: str | Path | None = None,
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> CorpusScore:
        """Perplexity, bits per char and OOV of a file: streamed (state carried) or line by line.

        The file is read in chunks, so it may be larger than memory; streamed evaluation runs up to
        ``batch_size`` parallel rows; ``progress(bytes_done, bytes_total)`` is called as it goes.
        ``cache=N`` mixes a neural cache of each row's last N steps into the streamed scores
        (:mod:`charlm.eval.cache`): ``p = (1 - cache_lambda) p_model + cache_lambda p_cache`` (defaults
        0.3 and 0.1); tuning them without ``cache`` is refused.
        ``dynamic`` (True for the paper's settings, or a :class:`DynamicConfig`) adapts the weights to the
        text as it is read (:mod:`charlm.eval.dynamic`), with gradient statistics from the model directory
        or measured on ``dynamic_stats`` (a training text file); the weights are restored afterwards.
        ``ngram_weight``/``ngram`` mix in an n-gram first (:meth:`ngram_mix`); cache and dynamic act on the mixture.
        """
        adapt = open_dynamic(self.forward_lm, self.tokenizer, self.directory, dynamic, dynamic_stats, encoding, errors)
        mix = self.ngram_mix(ngram_weight, ngram)
        try:
            return eval_file(
                self.forward_lm, self.tokenizer, path, independent=independent, batch_size=batch_size,
                precision=precision, encoding=encoding, errors=errors, progress=progress,
                cache=cache_config(cache, cache_theta, cache_lambda), dynamic=adapt, ngram=mix,
            )  # fmt: skip
        finally:
            if adapt is not None:
                adapt.restore()

    def score_file(
        self,
        path: str | Path,
        batch_size: int = 32,
        precision: str = "fp32",
        encoding: str = "utf-8",
        errors: str = "strict",
        progress: Progress | None = None,
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> CorpusScore | list[BidirectionalScore]:
        """A whole file as one text (``charlm score --file``): exactly :meth:`eval` (streamed), or for a
        ``--direction both`` model its forward, backward and mean log-probabilities (:meth:`score_both`)."""
        if self.bidirectional:
            return self.score_both(file=path, encoding=encoding, errors=errors)
        return self.eval(
            path, batch_size=batch_size, precision=precision, encoding=encoding, errors=errors, progress=progress,
            ngram_weight=ngram_weight, ngram=ngram,
        )  # fmt: skip

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
        unk: str = "replace",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> list[Sample]:
        """Generate ``num`` continuations of ``prime`` (one batch); ``on_token(row, text)`` streams them.

        ``precision="bf16"`` steps the model with bf16 weight matrices: faster at large ``num`` on CPUs
        with bf16 support, approximate (a seed repeats exactly only within one precision). ``unk`` is
        the policy for unknown characters/words in the prime (:meth:`prepare`); each sample's
        ``prime`` is the prime as the model read it.
        """
        refuse_sampling(self.module)  # a --direction both model cannot generate left to right
        stops = [stop] if isinstance(stop, str) else list(stop)
        return sample(
            self.forward_lm,
            self.tokenizer,
            self.prepare(prime, unk),
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
        self,
        prime: str = "",
        width: int = 5,
        length: int = 100,
        until_eos: bool = False,
        normalize: bool = False,
        unk: str = "replace",
        ngram_weight: str | float = "auto",
        ngram: str | Path | None = None,
    ) -> list[Beam]:
        """The ``width`` most probable continuations of ``prime`` by beam search, best first (mixed as :meth:`sample`)."""
        refuse_sampling(self.module)
        mix = self.ngram_mix(ngram_weight, ngram)
        return beam_search(
            self.forward_lm, self.tokenizer, self.prepare(prime, unk), width, length, until_eos, normalize, mix
        )

    def neighbors(self, word: str, k: int = 10) -> list[Neighbor]:
        """The ``k`` words whose input embeddings are nearest (cosine) to ``word``'s (word-level models)."""
        _check_k(k)
        return nearest(self.forward_lm, self.tokenizer, word, k)

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[Neighbor]:
        """``a`` is to ``b`` as ? is to ``c``: the ``k`` words nearest ``a - b + c`` (3CosAdd)."""
        _check_k(k)
        return solve_analogy(self.forward_lm, self.tokenizer, a, b, c, k=k)

    def info(self) -> dict[str, Any]:
        """What is inside the model directory."""
        info = {"path": str(self.path), "parameters": self.module.num_parameters(), **self.config}
        segmenter = getattr(self.tokenizer, "segmenter", None)  # word level on Chinese: jieba, version, dictionary
        return {**info, "segment": segmenter.to_json()} if segmenter is not None else info


def _check_k(k: int) -> None:
    if k < 1:
        raise CharlmError(f"-k must be at least 1 (got {k})")


def load(path: str | Path | None = None, device: str = "auto") -> Model:
    """Load a model directory (default: checkpoints/latest)."""
    return Model(path, device)
