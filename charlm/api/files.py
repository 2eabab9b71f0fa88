"""The file and both-ways methods of :class:`~charlm.api.model.Model`: evaluating a file or a text
(streamed or line by line, with the cache and dynamic evaluation), ``score --file``, and a
``--direction both`` model's forward, backward and mean scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charlm.errors import BadOption, CharlmError
from charlm.eval.bidirectional import BidirectionalScore, score_both, score_both_sentences
from charlm.eval.cache import cache_config
from charlm.eval.corpus import CorpusScore, eval_file
from charlm.eval.dynamic import DynamicConfig, dynamic_config, open_dynamic
from charlm.io import read_text
from charlm.options import ScoringOptions, check, check_all
from charlm.progress import Progress, silent
from charlm.tokenizers.unk import resolve_unk

if TYPE_CHECKING:
    from charlm.eval.mix import NgramMix
    from charlm.models.base import AnyLM, LanguageModel
    from charlm.ngram.spelling import Spelling
    from charlm.tokenizers import Tokenizer


class FileScoring:
    """Evaluation of files and texts, and both-ways scores, over what :class:`~charlm.api.model.Model` loads."""

    if TYPE_CHECKING:  # what Model provides
        module: AnyLM
        tokenizer: Tokenizer
        directory: Path
        options: ScoringOptions

        @property
        def forward_lm(self) -> LanguageModel: ...

        @property
        def bidirectional(self) -> bool: ...

        @property
        def spelling(self) -> Spelling: ...

        def _mix(self, options: ScoringOptions) -> NgramMix | None: ...

        def _scoring(self, options: ScoringOptions | None = None, **given: Any) -> ScoringOptions: ...

        def _texts(self, texts: str | Sequence[str], unk: str) -> list[str]: ...

    def score_both(
        self,
        texts: str | Sequence[str] = (),
        file: str | Path | None = None,
        encoding: str = "utf-8",
        errors: str = "strict",
        unk: str | None = None,
    ) -> list[BidirectionalScore]:
        """A ``--direction both`` model's forward, backward and mean log-probabilities.

        Sentences (each from a fresh state, ``<eos>`` counted, best mean first), or with ``file`` the
        whole file's text as one stream.
        """
        if file is not None:
            text = read_text(file, encoding, errors)
            return [replace(score_both(self.module, self.tokenizer, text, whole_file=True), text=str(file))]
        policy = resolve_unk(self.tokenizer, check("unk", unk or self.options.unk), left_to_right=False)
        if policy == "spell":
            raise BadOption(
                "--unk spell scores left to right; score a --direction both model with replace, skip or error"
            )
        return score_both_sentences(self.module, self.tokenizer, self._texts(texts, policy))

    def eval(
        self,
        path: str | Path,
        independent: bool = False,
        encoding: str = "utf-8",
        errors: str = "strict",
        progress: Progress | None = None,
        cache: int | None = None,
        cache_theta: float | None = None,
        cache_lambda: float | None = None,
        dynamic: DynamicConfig | bool | None = None,
        dynamic_stats: str | Path | None = None,
        options: ScoringOptions | None = None,
        **given: Any,
    ) -> CorpusScore:
        """Perplexity, bits per char and OOV of a file: streamed (state carried) or line by line.

        The file is read in chunks, so it may be larger than memory; streamed evaluation runs up to
        ``batch_size`` parallel rows (default 32); ``progress(stage, bytes_done, bytes_total)`` is called as it goes (:mod:`charlm.progress`).
        ``cache=N`` mixes a neural cache of each row's last N steps into the streamed scores
        (:mod:`charlm.eval.cache`): ``p = (1 - cache_lambda) p_model + cache_lambda p_cache`` (defaults
        0.3 and 0.1); tuning them without ``cache`` is refused.
        ``dynamic`` (True for the paper's settings, or a :class:`DynamicConfig`; ``dynamic_lr``,
        ``dynamic_lambda``, ``dynamic_segment`` as keywords) adapts the weights to the text as it is read
        (:mod:`charlm.eval.dynamic`), with gradient statistics from the model directory or measured on
        ``dynamic_stats`` (a training text file); the weights are restored afterwards.
        The scoring options' n-gram is mixed in first; cache and dynamic act on the mixture.
        """
        tuning = {k: given.pop(k) for k in ("dynamic_lr", "dynamic_lambda", "dynamic_segment") if k in given}
        check_all("eval", {"independent": independent, "cache": cache, "cache_theta": cache_theta,
                           "cache_lambda": cache_lambda, **tuning})  # fmt: skip
        if not isinstance(dynamic, DynamicConfig):
            dynamic = dynamic_config(
                bool(dynamic), *(tuning.get(k) for k in ("dynamic_lr", "dynamic_lambda", "dynamic_segment"))
            )
        opts = self._scoring(options, **given)
        if opts.unk in ("skip", "error"):
            raise BadOption(
                f"--unk {opts.unk} applies to sentences; a file is scored as it is (unknown words count as "
                "<unk>, priced by their spelling with --unk spell; see ppl_no_oov)"
            )
        adapt = open_dynamic(self.forward_lm, self.tokenizer, self.directory, dynamic, dynamic_stats, encoding, errors)
        try:
            return eval_file(
                self.forward_lm, self.tokenizer, path, independent=independent, batch_size=opts.rows_batch(),
                precision=opts.precision, encoding=encoding, errors=errors, progress=progress or silent,
                cache=cache_config(cache, cache_theta, cache_lambda), dynamic=adapt, ngram=self._mix(opts),
                spelling=self.spelling if opts.unk == "spell" else None,
            )  # fmt: skip
        finally:
            if adapt is not None:
                adapt.restore()

    def eval_text(
        self, text: str, independent: bool = False, options: ScoringOptions | None = None, **given: Any
    ) -> CorpusScore:
        """:meth:`eval` of ``text`` given as a string (``charlm eval`` of a file holding it); its path is ``<text>``."""
        import tempfile

        check("prime", text)
        with tempfile.TemporaryDirectory(prefix="charlm-eval-") as tmp:
            path = Path(tmp) / "text.txt"
            path.write_bytes(text.encode("utf-8"))
            try:
                result = self.eval(path, independent=independent, options=options, **given)
            except CharlmError as exc:  # say nothing of the temporary file
                raise CharlmError(str(exc).replace(str(path), "the text")) from None
        return replace(result, path="<text>")

    def score_file(
        self,
        path: str | Path,
        encoding: str = "utf-8",
        errors: str = "strict",
        progress: Progress | None = None,
        options: ScoringOptions | None = None,
        **given: Any,
    ) -> CorpusScore | list[BidirectionalScore]:
        """A whole file as one text (``charlm score --file``): exactly :meth:`eval` (streamed), or for a
        ``--direction both`` model its forward, backward and mean log-probabilities (:meth:`score_both`)."""
        if self.bidirectional:
            return self.score_both(file=path, encoding=encoding, errors=errors)
        return self.eval(path, encoding=encoding, errors=errors, progress=progress, options=options, **given)
