"""Unknown words priced by their spelling (``--unk spell``, and every word model in ``rescore``)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import charlm
from charlm.cli.app import app
from charlm.ngram.spelling import BOUNDARY, fit_spelling
from tests.conftest import no_crash


def test_spellings_form_a_distribution_over_strings() -> None:
    """All strings over the seen letters and one unseen one ("c"), up to length 9, share nearly all the mass."""
    spelling = fit_spelling(["ab", "ba", "aab", "b", "abba"])
    total = 0.0
    for length in range(10):
        words = ["".join(w) for w in itertools.product("abc", repeat=length)]
        total += float(np.exp(spelling.logprobs(words)).sum())
    assert 0.97 < total <= 1.0 + 1e-9
    assert spelling.logprobs(["c"])[0] == pytest.approx(spelling.logprobs(["d"])[0])  # unseen letters: one share
    assert BOUNDARY == 0


def test_known_mass_and_the_unknown_share() -> None:
    vocabulary = ["thick", "thin", "think", "this"]
    spelling = fit_spelling(vocabulary)
    mass = float(np.exp(spelling.logprobs(vocabulary)).sum())
    assert math.isclose(math.exp(spelling.known_logmass), mass, rel_tol=1e-9)
    word = "thicck"
    expected = spelling.logprobs([word])[0] - math.log(1.0 - mass)
    assert spelling.unknown_logprobs([word])[0] == pytest.approx(expected, abs=1e-9)
    assert spelling.logprobs(["thick"])[0] > spelling.logprobs(["thicck"])[0] > spelling.logprobs(["qzxv"])[0]


def test_spell_adds_the_spelling_of_each_unknown_word(tiny_word_model: Path) -> None:
    lm = charlm.load(tiny_word_model, device="cpu")
    known = " ".join(lm.tokenizer.token_str(i) for i in range(2, 5))
    texts = [known, known + " zzqx", known + " zzqx <unk>", known + "\n" + "zzqx " + known]
    plain = lm.score(texts, unk="replace")
    spelled = lm.score(texts, unk="spell")
    price = float(lm.spelling.unknown_logprobs(["zzqx"])[0])
    assert price < 0
    assert spelled[0].logprob == pytest.approx(plain[0].logprob, abs=1e-6)  # nothing unknown: unchanged
    for n in (1, 2, 3):  # one unknown word each; a literal <unk> is not priced
        assert spelled[n].logprob == pytest.approx(plain[n].logprob + price, abs=1e-5)
        assert spelled[n].oov == plain[n].oov
    per = lm.score([known + " zzqx"], unk="spell", per_token=True)[0].per_token
    assert per is not None and per[-2][0] == "<unk>"
    plain_per = lm.score([known + " zzqx"], unk="replace", per_token=True)[0].per_token
    assert plain_per is not None and per[-2][1] == pytest.approx(plain_per[-2][1] + price)


def test_word_models_spell_by_default(tiny_word_model: Path, tiny_model: Path, tmp_path: Path) -> None:
    """``unk`` auto: a word model prices unknown words by their spelling in score, eval (both ways) and rescore."""
    lm = charlm.load(tiny_word_model, device="cpu")
    known = " ".join(lm.tokenizer.token_str(i) for i in range(2, 5))
    texts = [known + " zzqx", known + " " + lm.tokenizer.token_str(5)]
    assert [s.logprob for s in lm.score(texts)] == [s.logprob for s in lm.score(texts, unk="spell")]
    replaced = lm.score(texts, unk="replace")
    assert lm.score(texts)[0].logprob < replaced[0].logprob  # the unknown word costs its letters
    path = tmp_path / "t.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    for independent in (False, True):
        spelled, plain = (lm.eval(path, independent=independent, unk=u) for u in ("auto", "replace"))
        price = float(lm.spelling.unknown_logprobs(["zzqx"])[0])
        assert spelled.logprob == pytest.approx(plain.logprob + price, abs=1e-4)
        assert spelled.logprob_no_oov == pytest.approx(plain.logprob_no_oov, abs=1e-4)
    independent = lm.eval(path, independent=True)
    assert independent.logprob == pytest.approx(sum(s.logprob for s in lm.score(texts)), abs=1e-4)
    scorer, plain_scorer = lm.as_rescorer(), lm.as_rescorer(unk="replace")
    assert scorer.logprobs(texts)[0][0] == pytest.approx(lm.score(texts)[0].logprob, abs=1e-6)
    assert plain_scorer.logprobs(texts)[0][0] == pytest.approx(replaced[0].logprob, abs=1e-6)
    with pytest.raises(charlm.CharlmError, match="applies to sentences"):
        lm.eval(path, unk="skip")
    char = charlm.load(tiny_model, device="cpu")  # auto is replace for char models
    assert char.score(["ab"])[0].logprob == char.score(["ab"], unk="replace")[0].logprob


def test_spell_is_for_word_models(cli: CliRunner, tiny_model: Path) -> None:
    result = cli.invoke(app, ["score", "-m", str(tiny_model), "--unk", "spell", "some text"])
    no_crash(result)
    assert result.exit_code == 2
    assert "--unk spell" in result.output and "word models" in result.output
    with pytest.raises(charlm.CharlmError):
        charlm.load(tiny_model, device="cpu").score(["some text"], unk="spell")


def test_spell_on_the_command_line(cli: CliRunner, tiny_word_model: Path) -> None:
    lm = charlm.load(tiny_word_model, device="cpu")
    known = " ".join(lm.tokenizer.token_str(i) for i in range(2, 5))
    result = cli.invoke(app, ["score", "-m", str(tiny_word_model), "--unk", "spell", "--json", known + " zzqx"])
    no_crash(result)
    assert result.exit_code == 0
    import json

    got = json.loads(result.output.splitlines()[0])["logprob"]
    assert got == pytest.approx(lm.score([known + " zzqx"], unk="spell")[0].logprob, abs=1e-6)


def test_rescoring_prices_unknown_words_by_spelling(tiny_word_model: Path, tiny_model: Path) -> None:
    """A word model in rescore scores like ``score --unk spell``; a char model like plain ``score``."""
    lm = charlm.load(tiny_word_model, device="cpu")
    word = max((lm.tokenizer.token_str(i) for i in range(2, lm.tokenizer.vocab_size)), key=len)
    texts = [f"{word} .", f"{word[0]}{word}q ."]
    got = lm.as_rescorer(ngram_weight=0.0).logprobs(texts)
    spelled = lm.score(texts, unk="spell", ngram_weight=0.0)
    plain = lm.score(texts, unk="replace", ngram_weight=0.0)
    assert [g[1] for g in got] == [s.oov for s in spelled] and got[1][1] == got[0][1] + 1
    assert [g[0] for g in got] == pytest.approx([s.logprob for s in spelled], abs=1e-5)
    assert got[1][0] < plain[1].logprob - 1.0
    char = charlm.load(tiny_model, device="cpu")
    assert char.as_rescorer(ngram_weight=0.0).logprobs(["the cat"])[0][0] == pytest.approx(
        char.score(["the cat"], ngram_weight=0.0)[0].logprob, abs=1e-5
    )


def test_an_unknown_word_no_longer_wins_a_sentence(cli: CliRunner, tiny_word_model: Path) -> None:
    """`charlm score` (defaults) never prefers a sentence because one of its words is unknown."""
    import json

    lm = charlm.load(tiny_word_model, device="cpu")
    words = [lm.tokenizer.token_str(i) for i in range(2, 6)]
    known = f"{words[0]} {words[1]} {words[2]}"
    unknown = f"{words[0]} zqxwvy {words[2]}"
    result = cli.invoke(app, ["score", "-m", str(tiny_word_model), "--json", unknown, known])
    no_crash(result)
    ranked = {row["text"]: row["rank"] for row in map(json.loads, result.output.splitlines())}
    assert ranked[known] == 1 and ranked[unknown] == 2
    old = lm.score([unknown, known], unk="replace")  # the old price: one <unk>, whatever the word
    new = lm.score([unknown, known])
    assert new[0].logprob < old[0].logprob - 5 and new[1].logprob == old[1].logprob
