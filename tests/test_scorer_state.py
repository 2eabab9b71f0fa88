"""The stateful scorer (begin / advance / end / next_logprobs / advance_many): paths of advances equal
one-shot sentence scoring, states branch without changing, and batches equal single advances."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import tests.handbuilt as hb
from charlm.api import Model, load
from charlm.eval.score import score_sentences
from charlm.eval.scorer_state import StateScorer, start_state
from charlm.models.base import build_model
from charlm.models.config import ModelConfig
from charlm.tokenizers.char import CharTokenizer

TOL = 1e-5


@pytest.fixture(scope="module")
def char_lm(tiny_model: Path) -> Model:
    return load(tiny_model, device="cpu")


@pytest.fixture(scope="module")
def word_lm(tiny_word_model: Path) -> Model:
    return load(tiny_word_model, device="cpu")


def _path_total(lm: Model, pieces: list[str]) -> float:
    s = lm.begin()
    total = 0.0
    for piece in pieces:
        s, lp = lm.advance(s, piece)
        total += lp
    s, lp = lm.end(s)
    assert s.ended and math.isclose(s.logprob, total + lp, abs_tol=1e-9)
    return total + lp


@pytest.mark.parametrize(
    "pieces", [["the cat ", "sat on", " the mat"], ["a", " dog ate the apple and pear salad"], ["x", "", "yz!"]]
)
def test_char_path_equals_score_of_the_concatenation(char_lm: Model, pieces: list[str]) -> None:
    assert abs(_path_total(char_lm, pieces) - char_lm.score("".join(pieces))[0].logprob) < TOL


def test_word_path_equals_score_of_the_words_joined(word_lm: Model) -> None:
    pieces = ["the cat", "sat on", "the mat"]
    assert abs(_path_total(word_lm, pieces) - word_lm.score(" ".join(pieces))[0].logprob) < TOL


def test_advancing_by_a_newline_ends_the_sentence(char_lm: Model) -> None:
    s, lp = char_lm.advance(char_lm.begin(), "the king\n")
    assert s.ended and abs(lp - char_lm.score("the king")[0].logprob) < TOL


def test_states_branch_without_changing(char_lm: Model) -> None:
    root, _ = char_lm.advance(char_lm.begin(), "the ")
    before = char_lm.next_logprobs(root).clone()
    left, lp_left = char_lm.advance(root, "cat")
    right, lp_right = char_lm.advance(root, "dog")
    again, lp_again = char_lm.advance(root, "cat")
    assert torch.equal(char_lm.next_logprobs(root), before) and root.tokens == 4
    assert lp_again == pytest.approx(lp_left, abs=1e-6) and lp_left != pytest.approx(lp_right)
    assert left.tokens == right.tokens == 7
    assert torch.allclose(char_lm.next_logprobs(again), char_lm.next_logprobs(left), atol=1e-6)


def test_next_logprobs_is_a_distribution_that_predicts_the_advance(char_lm: Model) -> None:
    s, _ = char_lm.advance(char_lm.begin(), "the ca")
    logp = char_lm.next_logprobs(s)
    assert logp.shape == (char_lm.tokenizer.vocab_size,)
    assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    _, lp = char_lm.advance(s, "t")
    assert lp == pytest.approx(float(logp[char_lm.tokenizer.encode("t")[0]]), abs=1e-6)


def test_advance_many_equals_one_at_a_time(char_lm: Model) -> None:
    root, _ = char_lm.advance(char_lm.begin(), "the ")
    other, _ = char_lm.advance(char_lm.begin(), "a dog ")
    states, texts = [root, other, root, other, root], ["cat sat", "", "king is dead", "a", "l"]
    batched = char_lm.advance_many(states, texts)
    for (s, lp), state, text in zip(batched, states, texts, strict=True):
        single, lp1 = char_lm.advance(state, text)
        assert lp == pytest.approx(lp1, abs=1e-5) and s.tokens == single.tokens
        assert torch.allclose(char_lm.next_logprobs(s), char_lm.next_logprobs(single), atol=1e-5)
        assert char_lm.end(s)[1] == pytest.approx(char_lm.end(single)[1], abs=1e-5)


def test_advance_many_refuses_mismatched_lengths(char_lm: Model) -> None:
    from charlm.errors import CharlmError

    with pytest.raises(CharlmError, match="one text per state"):
        char_lm.advance_many([char_lm.begin()], ["a", "b"])


@pytest.fixture
def bigram() -> Iterator[StateScorer]:
    with hb.registered():
        yield StateScorer(hb.build(), hb.tokenizer())


def test_bigram_known_answer(bigram: StateScorer) -> None:
    """A stateless model (state None): the stored distribution carries the history."""
    s = bigram.begin()
    assert torch.allclose(bigram.next_logprobs(s), torch.tensor(hb.log_table()[hb.EOS]))
    s, lp = bigram.advance(s, "ab")
    assert lp == pytest.approx(hb.logprob([hb.A, hb.B]), abs=1e-6)
    many = bigram.advance_many([s, s], ["b", "ba"])
    assert many[0][1] == pytest.approx(hb.logprob([hb.B], start=hb.B), abs=1e-6)
    assert many[1][1] == pytest.approx(hb.logprob([hb.B, hb.A], start=hb.B), abs=1e-6)
    end, _ = bigram.end(many[1][0])
    assert end.logprob == pytest.approx(hb.logprob([hb.A, hb.B, hb.B, hb.A, hb.EOS]), abs=1e-6)


def _untrained(**options: object) -> tuple[StateScorer, CharTokenizer]:
    torch.manual_seed(0)
    tokenizer = CharTokenizer(list("abc "))
    config = ModelConfig(vocab_size=tokenizer.vocab_size, hidden=16, embed=8, layers=2, **options)  # type: ignore[arg-type]
    return StateScorer(build_model(config).eval(), tokenizer), tokenizer


@pytest.mark.parametrize("options", [{"arch": "gru"}, {"attention": 3}, {"arch": "clockwork"}, {"arch": "rnn"}])
@pytest.mark.parametrize("grouped", [False, True])
def test_other_cores_batch_and_match_scoring(options: dict[str, object], grouped: bool) -> None:
    """Masked steps, and grouped forwards (equal length, equal state shape) for states that change shape."""
    scorer, tokenizer = _untrained(**options)
    assert scorer.fixed_shape  # every registered core keeps its state's shape as it reads
    scorer.fixed_shape = not grouped
    texts = ["ab ca", "b", "abcabc a", "cc"]
    halves = scorer.advance_many([scorer.begin()] * 4, [t[: len(t) // 2] for t in texts])
    rest = scorer.advance_many([s for s, _ in halves], [t[len(t) // 2 :] for t in texts])
    ends = [scorer.end(s)[0].logprob for s, _ in rest]
    expected = [s.logprob for s in score_sentences(scorer.model, tokenizer, texts)]
    assert ends == pytest.approx(expected, abs=TOL)


def test_begin_uses_the_models_start_state() -> None:
    """A learned start state plugs in through ``model.start_state(batch)``."""
    scorer, tokenizer = _untrained()
    plain = scorer.next_logprobs(scorer.begin()).clone()
    hidden = torch.full((2, 1, 16), 0.5)
    scorer.model.start_state = lambda batch: (hidden.expand(2, batch, 16), hidden.expand(2, batch, 16))  # type: ignore[assignment]
    try:
        assert start_state(scorer.model, 3)[0].shape == (2, 3, 16)
        started = scorer.next_logprobs(scorer.begin())
        with torch.inference_mode():
            logits, _ = scorer.model(torch.tensor([[tokenizer.eos_id]]), start_state(scorer.model, 1))
        assert torch.allclose(started, torch.log_softmax(logits[0, -1], -1), atol=1e-6)
        assert not torch.allclose(started, plain)
    finally:
        del scorer.model.start_state
