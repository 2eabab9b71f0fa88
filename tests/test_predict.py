"""``predict``: next-token probabilities equal exp of score differences, next words by a beam agree
with brute force on a hand-built bigram, the gap filler ranks by whole sentences, and the CLI."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import tests.handbuilt as hb
from charlm.api import Model, load
from charlm.cli.app import app
from charlm.errors import CharlmError
from charlm.eval.bidirectional import score_both
from charlm.eval.predict import fill_blank, is_solo, predict_tokens, predict_words
from charlm.eval.scorer_state import StateScorer
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.tokenizers.char import CharTokenizer

runner = CliRunner()


@pytest.fixture(scope="module")
def char_lm(tiny_model: Path) -> Model:
    return load(tiny_model, device="cpu")


def _prefix_logprob(lm: Model, text: str) -> float:
    """log p(text) without the final <eos>, from `score --per-token` (the sentence minus its last token)."""
    scored = lm.score(text, per_token=True)[0]
    assert scored.per_token is not None
    return scored.logprob - scored.per_token[-1][1]


@pytest.mark.parametrize("prefix", ["the cat sat on the ", "a dog", ""])
def test_token_probabilities_equal_exp_of_score_differences(char_lm: Model, prefix: str) -> None:
    predictions = char_lm.predict(prefix, k=5)
    assert len(predictions) == 5 and predictions == sorted(predictions, key=lambda p: -p.logprob)
    for p in predictions:
        if p.text == "<eos>":
            expected = char_lm.score(prefix)[0].logprob - _prefix_logprob(char_lm, prefix) if prefix else None
            if expected is not None:
                assert p.logprob == pytest.approx(expected, abs=1e-5)
            continue
        gap = _prefix_logprob(char_lm, prefix + p.text) - (_prefix_logprob(char_lm, prefix) if prefix else 0.0)
        assert p.prob == pytest.approx(math.exp(gap), rel=1e-4)


def test_word_model_predicts_words(tiny_word_model: Path) -> None:
    lm = load(tiny_word_model, device="cpu")
    predictions = lm.predict("the cat sat on the", k=3, words=True)
    assert predictions == lm.predict("the cat sat on the", k=3)
    assert "<unk>" not in [p.text for p in predictions] and predictions[0].text in {"mat", "log"}


@pytest.fixture
def bigram() -> Iterator[StateScorer]:
    with hb.registered():
        yield StateScorer(hb.build(), hb.tokenizer())


def _brute_force_words(longest: int = 14) -> dict[str, float]:
    """p(word, then <eos>) for every word over {a, b} up to ``longest`` letters: the only boundary is <eos>."""
    ids = {"a": hb.A, "b": hb.B}
    words = {}
    for n in range(1, longest + 1):
        for letters in itertools.product("ab", repeat=n):
            word = "".join(letters)
            words[word] = hb.logprob([ids[c] for c in word] + [hb.EOS])
    return words


def test_next_words_agree_with_brute_force(bigram: StateScorer) -> None:
    truth = sorted(_brute_force_words().items(), key=lambda kv: -kv[1])
    found = predict_words(bigram, "", k=4)
    eos = next(p for p in found if p.text == "<eos>") if any(p.text == "<eos>" for p in found) else None
    words = [p for p in found if p.text != "<eos>"]
    assert [p.text for p in words] == [w for w, _ in truth[: len(words)]]
    assert [p.logprob for p in words] == pytest.approx([lp for _, lp in truth[: len(words)]], abs=1e-6)
    if eos is not None:  # an empty line: <eos> first
        assert eos.logprob == pytest.approx(math.log(hb.TABLE[hb.EOS][hb.EOS] / sum(hb.TABLE[hb.EOS])), abs=1e-6)


def test_a_prefix_inside_a_word_is_completed(bigram: StateScorer) -> None:
    """After "a", the open word "a" is finished by <eos> or continued by more letters."""
    found = {p.text: p.logprob for p in predict_words(bigram, "a", k=3)}
    assert found["a"] == pytest.approx(hb.logprob([hb.EOS], start=hb.A), abs=1e-6)
    assert found["aa"] == pytest.approx(hb.logprob([hb.A, hb.EOS], start=hb.A), abs=1e-6)


def test_cjk_characters_and_punctuation_are_words() -> None:
    assert is_solo("中") and is_solo(",") and is_solo("。") and not is_solo("a") and not is_solo(" ")
    torch.manual_seed(0)
    tokenizer = CharTokenizer(list("我是学生 ab,"))
    model = build_model(ModelConfig(vocab_size=tokenizer.vocab_size, hidden=8, embed=4, layers=1)).eval()
    for p in predict_words(StateScorer(model, tokenizer), "我是", k=10):
        assert p.text == "<eos>" or len(p.text) == 1 or not any(is_solo(c) for c in p.text), p.text


def test_fill_blank_ranks_candidates_by_the_whole_sentence(char_lm: Model) -> None:
    text = "the cat sat on the ___"
    ranked = char_lm.fill_blank(text, ["king", "mat", "log"])
    totals = {c: char_lm.score(text.replace("___", c))[0].logprob for c in ("king", "mat", "log")}
    assert [p.text for p in ranked] == sorted(totals, key=lambda c: -totals[c])
    assert [p.sentence_logprob for p in ranked] == pytest.approx([totals[p.text] for p in ranked], abs=1e-5)
    assert sum(p.prob for p in ranked) == pytest.approx(1.0)


def test_fill_blank_proposes_from_the_left_context(char_lm: Model) -> None:
    ranked = char_lm.fill_blank("the cat sat on the ___ .", k=3)
    assert len(ranked) == 3 and ranked == sorted(ranked, key=lambda p: -(p.sentence_logprob or 0.0))
    with pytest.raises(CharlmError, match="exactly one ___"):
        char_lm.fill_blank("no gap here")


def test_fill_blank_prices_unknown_words_by_their_spelling(tiny_word_model: Path) -> None:
    """Two candidates the word model lacks no longer tie at <unk>: each sentence scores as with unk="spell"."""
    lm = load(tiny_word_model, device="cpu")
    text, unknown = "the cat sat on the ___", ["mats", "qxzv"]
    for word in unknown:
        with pytest.raises(CharlmError):
            lm.prepare(word, "error")  # both are unknown to the model
    ranked = lm.fill_blank(text, unknown)
    spelled = {w: lm.score(text.replace("___", w), unk="spell")[0].logprob for w in unknown}
    assert [p.sentence_logprob for p in ranked] == pytest.approx([spelled[p.text] for p in ranked], abs=1e-5)
    assert [p.text for p in ranked] == ["mats", "qxzv"] and spelled["mats"] > spelled["qxzv"] + 1.0


def test_fill_blank_uses_both_directions() -> None:
    torch.manual_seed(1)
    tokenizer = CharTokenizer(list("abc "))
    model = build_model(ModelConfig(vocab_size=tokenizer.vocab_size, hidden=8, embed=4, direction="both")).eval()
    ranked = fill_blank(StateScorer(model.forward_lm, tokenizer), "ab ___ c", ["a", "bb", "c"], both=model)
    for p in ranked:
        assert p.sentence_logprob == pytest.approx(score_both(model, tokenizer, f"ab {p.text} c").mean, abs=1e-5)


def test_tokens_skip_unk_unless_asked(bigram: StateScorer) -> None:
    assert "<unk>" not in [p.text for p in predict_tokens(bigram, "a", k=4)]
    assert "<unk>" in [p.text for p in predict_tokens(bigram, "a", k=4, keep_unk=True)]


def test_cli_predict(tiny_model: Path) -> None:
    result = runner.invoke(app, ["predict", "the cat sat on the ", "-m", str(tiny_model), "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 3 and rows[0]["prob"] >= rows[1]["prob"]
    table = runner.invoke(app, ["predict", "the cat sat on the ", "-m", str(tiny_model), "--words"])
    assert table.exit_code == 0 and "next words" in table.stdout
    gap = ["predict", "the cat sat on the ___", "-m", str(tiny_model), "--blank", "--candidates", "mat,king"]
    blank = runner.invoke(app, gap)
    assert blank.exit_code == 0 and "share" in blank.stdout and "mat" in blank.stdout
    bad = runner.invoke(app, ["predict", "no gap", "-m", str(tiny_model), "--blank"])
    assert bad.exit_code == 2 and bad.stderr.startswith("charlm: error:") and "Traceback" not in bad.output  # the text


def test_predict_help_has_an_example() -> None:
    result = runner.invoke(app, ["predict", "--help"])
    assert result.exit_code == 0 and "Example: charlm predict" in result.output
