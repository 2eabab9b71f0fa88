"""The :class:`Model` ``charlm.load(dir)`` returns: it scores sentences and files, evaluates, samples and
looks into its embeddings; its component methods (prediction, the stateful scorer, rescoring) come
from :class:`charlm.api.component.Component`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charlm.api.component import Component
from charlm.api.files import FileScoring
from charlm.api.info import ModelInfo
from charlm.checkpoint import load_model, resolve_model_dir
from charlm.errors import BadOption, CharlmError
from charlm.eval.alternatives import top_alternatives
from charlm.eval.beam import Beam, beam_search
from charlm.eval.bidirectional import (
    is_bidirectional,
    refuse_sampling,
)
from charlm.eval.mix import NgramMix, resolve
from charlm.eval.neighbors import Neighbor
from charlm.eval.neighbors import analogy as solve_analogy
from charlm.eval.neighbors import neighbors as nearest
from charlm.eval.sample import Sample, TokenCallback, sample
from charlm.eval.score import Ranking, SentenceScore, rank, ranking, score_sentences
from charlm.models.base import BidirectionalLM, LanguageModel
from charlm.options import ScoringOptions, check, check_all, default
from charlm.progress import Progress, silent
from charlm.runtime import pick_device
from charlm.tokenizers.unk import apply_unk_policy

if TYPE_CHECKING:
    from charlm.ngram.spelling import Spelling


class Model(FileScoring, Component):
    """A trained language model with its tokenizer, ready to use.

    ``options`` (:class:`~charlm.options.ScoringOptions`: unknown-token policy, n-gram mixture,
    precision, batch size) apply to every method; a call may change them for itself, with
    ``options=ScoringOptions(...)`` or single keywords (``unk="spell"``), or :meth:`using` gives a
    view of the same model with other options.
    """

    def __init__(
        self, path: str | Path | None = None, device: str = "auto", options: ScoringOptions | None = None
    ) -> None:
        self.device = pick_device(check("device", device))
        self.module, self.tokenizer, self.config = load_model(path, self.device)
        self.path = Path(path) if path else Path("checkpoints/latest")
        self.directory = resolve_model_dir(path)  # the resolved model directory (checkpoints/latest followed)
        self.options = options if options is not None else ScoringOptions()

    def using(self, options: ScoringOptions | None = None, **given: Any) -> Model:
        """This model (the same weights, loaded once) with other scoring options."""
        view = copy.copy(self)
        view.options = self.options.merged(options, **given)
        return view

    def _scoring(self, options: ScoringOptions | None = None, **given: Any) -> ScoringOptions:
        """The options a call runs with: the model's, then ``options``, then single keywords."""
        return self.options.merged(options, **given)

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

    def _mix(self, options: ScoringOptions) -> NgramMix | None:
        """The n-gram mixture of ``options`` (:meth:`ngram_mix`)."""
        return self.ngram_mix(options.ngram_weight, options.ngram)

    @property
    def spelling(self) -> Spelling:
        """The character model that prices unknown words by their spelling (``unk="spell"``), built once."""
        from charlm.ngram.spelling import tokenizer_spelling

        if "_spelling" not in self.__dict__:
            apply_unk_policy(self.tokenizer, "", "spell")  # refuses char and subword models
            self.__dict__["_spelling"] = tokenizer_spelling(self.tokenizer)
        spelling: Spelling = self.__dict__["_spelling"]
        return spelling

    def build_ngram(
        self,
        order: int | None = None,
        memory: int | str = default("memory"),
        ngram_prune: str | int | Sequence[int] = default("ngram_prune"),
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Count the run's training ids (its corpus cache) into an interpolated modified Kneser-Ney n-gram.

        ``order`` defaults per level (6 char, 5 word, 4 subword); the mixing weights are tuned on the
        run's validation ids, per line and streamed. ``memory`` (bytes, or ``"4G"``) bounds the
        counting, which spills sorted runs to disk past it; ``ngram_prune`` is ``"auto"`` (prune only
        what would not fit) or counts per order at or below which n-grams are dropped (``[0, 0, 1]``).
        ``progress`` hears about counting and merging. Returns what ``ngram.json`` records.
        """
        from charlm.ngram.store import Plan
        from charlm.training.ngram import build_run_ngram
        from charlm.writer import locked

        check("order", order)
        plan = Plan(check("memory", memory), check("ngram_prune", ngram_prune), progress or silent)
        refuse_sampling(self.module)  # a --direction both model has no left-to-right probabilities to mix
        with locked(self.directory):  # not while a training run writes the directory
            meta = build_run_ngram(self.directory, self.forward_lm, self.tokenizer, order, self.tokenizer.kind, plan)
        self.__dict__.pop("_mixes", None)
        return meta

    def export_arpa(self, path: str | Path) -> dict[str, Any]:
        """Write the model's n-gram as an ARPA file (:mod:`charlm.ngram.arpa`); returns its order and counts."""
        from charlm.ngram.arpa import export_model_arpa

        return export_model_arpa(self.directory, self.tokenizer, Path(path))

    def export_onnx(self, out: str | Path, quantize: str = "none", force: bool = False) -> dict[str, Any]:
        """Export to ONNX graphs that onnxruntime runs without torch (:mod:`charlm.export.onnx`).

        ``out`` is claimed (:mod:`charlm.writer`): an earlier export there is replaced only with ``force``.
        """
        from charlm.export.onnx import export_onnx

        return export_onnx(self.directory, out, quantize=check("quantize", quantize), force=force)

    def prepare(self, text: str, unk: str | None = None) -> str:
        """``text`` as the model reads it under the unknown-token policy ``unk`` (default: the model's).

        replace: unknown characters/words become ``<unk>`` (text unchanged); skip: they are removed;
        error: raise :class:`~charlm.errors.CharlmError` naming them; spell: unchanged (priced when scored).
        """
        return apply_unk_policy(self.tokenizer, check("prime", text), check("unk", unk or self.options.unk))

    def _texts(self, texts: str | Sequence[str], unk: str) -> list[str]:
        items = check("sentences", [texts] if isinstance(texts, str) else texts)  # a list (or tuple) of texts
        prepared = [self.prepare(t, unk) for t in items]
        for n, (text, read) in enumerate(zip(items, prepared, strict=True), 1):
            if text.strip() and not read.strip():  # refused like an empty sentence, on every surface
                raise CharlmError(
                    f"sentence {n} ({text[:40]!r}) is empty once --unk skip drops what the model does not know"
                )
        return prepared

    def score(
        self,
        texts: str | Sequence[str],
        normalize: str = "total",
        per_token: bool = False,
        options: ScoringOptions | None = None,
        alternatives: int = 0,
        **given: Any,
    ) -> list[SentenceScore]:
        """Score sentences from a fresh state (``<eos>`` counted, start not), in input order.

        Each result carries ``rank`` (1 = best) and ``score`` under ``normalize``: total (nats),
        token (nats per token) or char (nats per character). The scoring options (``unk``,
        ``ngram_weight``, ``ngram``, ``precision``, ``batch_size``) are the model's unless given.
        A ``--direction both`` model is scored by its forward half here; :meth:`score_both` gives both.
        ``alternatives`` (with ``per_token``) adds the network's k most likely tokens at each position.
        """
        check_all("score", {"normalize": normalize, "per_token": per_token, "alternatives": alternatives})
        if alternatives and not per_token:
            raise BadOption("alternatives go with per-token scores (--per-token)")
        opts = self._scoring(options, **given)
        items = self._texts(texts, opts.unk)
        scores = score_sentences(
            self.forward_lm, self.tokenizer, items, per_token=per_token, batch_size=opts.sentences_batch(),
            precision=opts.precision, ngram=self._mix(opts), spelling=self.spelling if opts.unk == "spell" else None,
        )  # fmt: skip
        if alternatives:
            found = top_alternatives(self.forward_lm, self.tokenizer, items, alternatives)
            scores = [replace(s, alternatives=a) for s, a in zip(scores, found, strict=True)]
        return rank(scores, normalize)

    def rank(
        self,
        texts: Sequence[str],
        normalize: str = "total",
        per_token: bool = False,
        options: ScoringOptions | None = None,
        alternatives: int = 0,
        **given: Any,
    ) -> Ranking:
        """The sentences best first under ``normalize``, with the margin between the best two."""
        return ranking(self.score(texts, normalize, per_token, options, alternatives, **given), normalize)

    @property
    def forward_lm(self) -> LanguageModel:
        """The left-to-right language model: the model itself, or a bidirectional model's forward half."""
        return self.module.forward_lm if isinstance(self.module, BidirectionalLM) else self.module

    @property
    def bidirectional(self) -> bool:
        """Whether this is a ``--direction both`` model (score it with :meth:`score_both`)."""
        return is_bidirectional(self.module)

    def sample(
        self,
        prime: str = "",
        length: int = 500,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        num: int = 1,
        seed: int | None = None,
        until_eos: bool = False,
        stop: str | Sequence[str] = (),
        on_token: TokenCallback | None = None,
        options: ScoringOptions | None = None,
        **given: Any,
    ) -> list[Sample]:
        """Generate ``num`` continuations of ``prime`` (one batch); ``on_token(row, text)`` streams them.

        ``precision="bf16"`` steps the model with bf16 weight matrices: faster at large ``num`` on CPUs
        with bf16 support, approximate (a seed repeats exactly only within one precision). ``unk`` is
        the policy for unknown characters/words in the prime (:meth:`prepare`); each sample's
        ``prime`` is the prime as the model read it.
        """
        stops = [stop] if isinstance(stop, str) else list(stop)
        check_all("sample", {"length": length, "temperature": temperature, "top_k": top_k, "top_p": top_p,
                             "num": num, "seed": seed, "until_eos": until_eos, "stop": stops})  # fmt: skip
        opts = self._scoring(options, **given)
        refuse_sampling(self.module)  # a --direction both model cannot generate left to right
        return sample(
            self.forward_lm, self.tokenizer, self.prepare(prime, opts.unk), length, temperature, top_k, top_p, num,
            seed, until_eos, on_token, stops, opts.precision, self._mix(opts),
        )  # fmt: skip

    def beam(
        self,
        prime: str = "",
        width: int = 5,
        length: int = 500,
        until_eos: bool = False,
        normalize: bool = False,
        options: ScoringOptions | None = None,
        **given: Any,
    ) -> list[Beam]:
        """The ``width`` most probable continuations of ``prime`` by beam search, best first (mixed as :meth:`sample`)."""
        check_all("sample", {"beam": width, "length": length, "until_eos": until_eos})
        opts = self._scoring(options, **given)
        refuse_sampling(self.module)
        prime = self.prepare(prime, opts.unk)
        return beam_search(self.forward_lm, self.tokenizer, prime, width, length, until_eos, normalize, self._mix(opts))

    def neighbors(self, word: str, k: int = 10) -> list[Neighbor]:
        """The ``k`` words whose input embeddings are nearest (cosine) to ``word``'s (word-level models)."""
        check_all("neighbors", {"word": word, "k": k})
        return nearest(self.forward_lm, self.tokenizer, word, k)

    def analogy(self, a: str, b: str, c: str, k: int = 10) -> list[Neighbor]:
        """``a`` is to ``b`` as ? is to ``c``: the ``k`` words nearest ``a - b + c`` (3CosAdd)."""
        check_all("neighbors", {"word": a, "k": k})
        return solve_analogy(self.forward_lm, self.tokenizer, a, check("word", b), check("word", c), k=k)

    def curve(self, points: int = 200) -> dict[str, list[list[float]]]:
        """The training curve from the run's metrics.jsonl: ``{"train": [[step, loss], ...], "val": [...]}``.

        Each list holds at most ``points`` points, thinned evenly with the last one kept; a model
        directory without metrics.jsonl has empty curves. Losses are nats per token.
        """
        from charlm.layout import METRICS
        from charlm.plot import read_curves

        check("points", points)
        if not (self.directory / METRICS).is_file():
            return {"train": [], "val": []}
        train, val = read_curves(self.directory)
        return {"train": _thinned(*train, points), "val": _thinned(*val, points)}

    def info(self) -> ModelInfo:
        """What is inside the model directory (:class:`ModelInfo`; ``to_dict()`` is ``charlm info --json``)."""
        segmenter = getattr(self.tokenizer, "segmenter", None)  # word level on Chinese: jieba, version, dictionary
        return ModelInfo(
            path=str(self.path), parameters=self.module.num_parameters(), config=dict(self.config),
            segment=segmenter.to_json() if segmenter is not None else None,
        )  # fmt: skip


def _thinned(steps: list[int], losses: list[float], points: int) -> list[list[float]]:
    """At most ``points`` of the (step, loss) pairs, evenly spaced, first and last kept."""
    n = len(steps)
    keep = range(n) if n <= points else sorted({round(i * (n - 1) / (points - 1)) for i in range(points)})
    return [[steps[i], losses[i]] for i in keep]


def load(path: str | Path | None = None, device: str = "auto", options: ScoringOptions | None = None) -> Model:
    """Load a model directory (default: checkpoints/latest); ``options`` apply to every call."""
    return Model(path, device, options)
