"""The model as a component of other systems: next-word prediction, the stateful scorer, n-best rescoring.

:class:`Component` holds the :class:`~charlm.api.model.Model` methods that other programs drive
(docs/component.md); :func:`rescore` re-ranks an n-best list with several models at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor

from charlm.errors import CharlmError
from charlm.eval.predict import Prediction, fill_blank, predict_tokens, predict_words
from charlm.eval.rescore import CharlmScorer, SentenceScorer, Weights, load_scorer
from charlm.eval.rescore_run import Progress, RescoreResult, rescore_nbest
from charlm.eval.scorer_state import LMState, StateScorer
from charlm.options import ScoringOptions, check, check_all

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix
    from charlm.models.base import AnyLM, LanguageModel
    from charlm.ngram.spelling import Spelling
    from charlm.tokenizers import Tokenizer


class Component:
    """Prediction, the stateful scorer and rescoring, over what :class:`~charlm.api.model.Model` loads."""

    if TYPE_CHECKING:  # what Model provides
        module: AnyLM
        tokenizer: Tokenizer
        path: Path

        @property
        def forward_lm(self) -> LanguageModel: ...

        @property
        def bidirectional(self) -> bool: ...

        @property
        def spelling(self) -> Spelling: ...

        def _mix(self, options: ScoringOptions) -> NgramMix | None: ...

        def _scoring(self, options: ScoringOptions | None = None, **given: Any) -> ScoringOptions: ...

    @property
    def scorer(self) -> StateScorer:
        """The stateful scorer :meth:`begin` and friends use: the model's options (``auto`` mixture by default), as :meth:`score`.

        A path through it sums to ``score(text)``; ``state_scorer(ngram_weight=0)`` is the network alone.
        """
        return self.state_scorer()

    def state_scorer(self, options: ScoringOptions | None = None, **given: Any) -> StateScorer:
        """A stateful scorer whose distributions mix in the n-gram of the scoring options (per-line weights).

        Its ``begin``/``advance``/``end``/``next_logprobs``/``advance_many`` are those of :meth:`begin`
        and friends, over the mixture; with weight 0 (or no n-gram under ``auto``) it is the network alone.
        A first positional argument that is not a :class:`ScoringOptions` is the n-gram weight (old form).
        """
        if options is not None and not isinstance(options, ScoringOptions):
            given["ngram_weight"], options = options, None
        mix = self._mix(self._scoring(options, **given))
        scorers: dict[int, StateScorer] = self.__dict__.setdefault("_scorers", {})
        if id(mix) not in scorers:
            scorers[id(mix)] = StateScorer(self.forward_lm, self.tokenizer, mix)
        return scorers[id(mix)]

    def predict(
        self,
        prefix: str,
        k: int = 10,
        words: bool = False,
        keep_unk: bool = False,
        options: ScoringOptions | None = None,
        **given: Any,
    ) -> list[Prediction]:
        """The ``k`` most probable next tokens after ``prefix`` (``words=True``: next words), best first.

        The scoring options' n-gram is mixed in: the next-token distribution, and for ``words`` the
        beam, are the mixture's.
        """
        check_all("predict", {"prefix": prefix, "k": k, "words": words, "keep_unk": keep_unk})
        scorer = self.state_scorer(options, **given)
        if words:
            return predict_words(scorer, prefix, k)
        return predict_tokens(scorer, prefix, k, keep_unk)

    def fill_blank(
        self,
        text: str,
        candidates: Sequence[str] = (),
        k: int = 10,
        options: ScoringOptions | None = None,
        **given: Any,
    ) -> list[Prediction]:
        """Words for the ``___`` in ``text``, ranked by the whole sentence's probability (mixed as :meth:`score`).

        ``candidates`` is a list of words (none: the model proposes them). A word model prices a
        candidate it does not know by its spelling (``unk`` auto or spell, as :meth:`score`), so unknown
        candidates are ranked among themselves instead of tying at ``<unk>``.
        """
        check_all("predict", {"prefix": text, "k": k})
        words = check("candidates", list(candidates) if isinstance(candidates, tuple) else candidates)
        both = self.module if self.bidirectional else None
        spell = self._scoring(options, **given).unk == "spell"
        spelling = self.spelling if spell and both is None else None
        return fill_blank(self.state_scorer(options, **given), text, words, k, both=both, spelling=spelling)

    def begin(self) -> LMState:
        """The state at the start of a sentence (after ``<eos>``), KenLM-style; see :meth:`advance`.

        :meth:`begin`, :meth:`advance`, :meth:`end`, :meth:`next_logprobs` and :meth:`advance_many`
        read :attr:`scorer` (the ``auto`` mixture, like :meth:`score`); for another n-gram weight use
        the same methods of ``state_scorer(ngram_weight, ngram)``.
        """
        return self.scorer.begin()

    def advance(self, state: LMState, text: str) -> tuple[LMState, float]:
        """``(new state, log p(text | state))``; ``state`` is unchanged, so hypotheses can branch."""
        return self.scorer.advance(state, text)

    def end(self, state: LMState) -> tuple[LMState, float]:
        """Feed ``<eos>``: a path begin -> advance(a) -> advance(b) -> end sums to ``score(a + b)``."""
        return self.scorer.end(state)

    def next_logprobs(self, state: LMState) -> Tensor:
        """``log p(token | state)`` for every token id, a (V,) tensor (names: ``tokenizer.token_str``)."""
        return self.scorer.next_logprobs(state)

    def advance_many(self, states: Sequence[LMState], texts: Sequence[str]) -> list[tuple[LMState, float]]:
        """:meth:`advance` for many (state, text) pairs in one batched run."""
        return self.scorer.advance_many(states, texts)

    def as_rescorer(self, options: ScoringOptions | None = None, **given: Any) -> SentenceScorer:
        """This model as one language model of an n-best rescoring (its n-gram mixed in as :meth:`score` does)."""
        opts = self._scoring(options, **given)  # unk auto: a word model prices unknown words by their spelling
        spelling = self.spelling if opts.unk == "spell" else None
        return CharlmScorer(self.forward_lm, self.tokenizer, self.path.name, self._mix(opts), spelling)

    def rescore(
        self,
        nbest: str | Path,
        weight: float | None = None,
        length_penalty: float = 0.0,
        oov_weight: float | None = None,
        char_penalty: float = 0.0,
        others: Sequence[Component | SentenceScorer] = (),
        ngram_weight: str | float | None = None,
        ngram: str | Path | None = None,
        **tuning: Any,
    ) -> RescoreResult:
        """Re-rank an n-best list with this model (and ``others``); ``tuning`` as :func:`rescore`.

        ``weight`` (default 1) and ``oov_weight`` (default 0) apply to every model.

        ``ngram_weight``/``ngram`` (default: each model's scoring options) apply to every model given
        as a :class:`Model` (see :func:`rescore`).
        """
        given = {"weight": weight, "length_penalty": length_penalty, "oov_weight": oov_weight}
        check_all("rescore", given | {"char_penalty": char_penalty})
        count = 1 + len(others)
        lm, oov = (1.0 if weight is None else weight,) * count, (oov_weight or 0.0,) * count
        weights = Weights(lm, length_penalty, oov, char_penalty)
        return rescore(nbest, [self, *others], weights, ngram_weight=ngram_weight, ngram=ngram, **tuning)


def rescore(
    nbest: str | Path | None,
    models: Sequence[Component | SentenceScorer | str | Path],
    weights: Weights | None = None,
    tune_on: str | Path | None = None,
    tune_refs: str | Path | None = None,
    refs: str | Path | None = None,
    tune_oov: bool = True,
    progress: Progress | None = None,
    ngram_weight: str | float | None = None,
    ngram: str | Path | None = None,
) -> RescoreResult:
    """Re-rank ``nbest`` with several language models (loaded models, scorers or model directories).

    With ``tune_on`` (a development n-best list) and ``tune_refs`` the weights are tuned there first
    to minimise WER; with ``refs`` the test WER before and after is measured. Each charlm model's
    log-probability mixes in its n-gram as ``score`` does per line (``ngram_weight``: auto, 0 or a
    weight, default each loaded model's own options and ``auto`` for directories; ``ngram``: an ARPA
    file instead of each model's own, so only with one model).
    """
    charlm_models = [m for m in models if isinstance(m, (Component, str, Path))]
    if ngram is not None and len(charlm_models) > 1:
        raise CharlmError("--ngram names one ARPA file for one model; give a single --model with it")
    scorers = [
        m.as_rescorer(ngram_weight=ngram_weight, ngram=ngram)
        if isinstance(m, Component)
        else load_scorer(m, ngram_weight="auto" if ngram_weight is None else ngram_weight, ngram=ngram)
        if isinstance(m, (str, Path))
        else m
        for m in models
    ]
    _name_by_path(scorers, models)
    return rescore_nbest(nbest, scorers, weights, tune_on, tune_refs, refs, tune_oov, progress)


def _name_by_path(scorers: Sequence[SentenceScorer], models: Sequence[Any]) -> None:
    """Models of the same directory name (run1/best, run2/best) are named by their paths as given."""
    names = [s.name for s in scorers]
    for scorer, model in zip(scorers, models, strict=True):
        given = model.path if isinstance(model, Component) else model if isinstance(model, (str, Path)) else None
        if isinstance(scorer, CharlmScorer) and given is not None and names.count(scorer.name) > 1:
            scorer.name = str(given)
