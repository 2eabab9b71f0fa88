"""Scoring and sampling through the Python API: batching, conventions, seeds, <unk>."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import charlm
from charlm.sample import filter_logits
from charlm.tokenizers import UNK_ID


def test_batched_scores_equal_one_at_a_time(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    texts = ["the cat sat", "a dog", "the king is dead long live the king", "x", "the apple and pear salad"]
    batched = lm.score(texts, batch_size=64)
    for text, b in zip(texts, batched, strict=True):
        single = lm.score([text], batch_size=1)[0]
        assert b.text == text
        assert b.logprob == pytest.approx(single.logprob, abs=1e-5)


def test_sentence_score_conventions(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    s = lm.score(["the cat sat"], per_token=True)[0]
    assert s.tokens == len("the cat sat") + 1  # characters plus <eos>
    assert s.per_token is not None and s.per_token[-1][0] == "<eos>"
    assert sum(lp for _, lp in s.per_token) == pytest.approx(s.logprob, abs=1e-4)
    assert s.log10prob == pytest.approx(s.logprob / math.log(10))
    assert s.ppl == pytest.approx(math.exp(-s.logprob / s.tokens))
    assert s.bpc == pytest.approx(-s.logprob / math.log(2) / (len("the cat sat") + 1))


def test_trained_model_prefers_seen_text(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    good, bad = lm.score(["the king is dead", "dki eht si gnek"])
    assert good.logprob > bad.logprob


def test_oov_accounting_word_level(tiny_word_model: Path) -> None:
    lm = charlm.load(tiny_word_model, device="cpu")
    s = lm.score(["the cat zebra sat"])[0]
    assert s.oov == 1
    assert s.tokens == 5
    assert s.ppl_no_oov != s.ppl


def test_same_seed_same_sample(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    a = lm.sample("the ", length=50, temperature=0.9, seed=7)[0]
    b = lm.sample("the ", length=50, temperature=0.9, seed=7)[0]
    c = lm.sample("the ", length=50, temperature=0.9, seed=8)[0]
    assert a.text == b.text
    assert a.text != c.text
    assert len(a.ids) == 50


def test_greedy_is_deterministic_and_num_gives_batches(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    greedy = lm.sample("the ", length=20, temperature=0, num=3)
    assert len({s.text for s in greedy}) == 1


def test_word_sampling_never_emits_unk_and_stops_at_eos(tiny_word_model: Path) -> None:
    lm = charlm.load(tiny_word_model, device="cpu")
    for s in lm.sample("", length=30, temperature=3.0, num=8, seed=1, until_eos=True):
        assert UNK_ID not in s.ids
        assert "\n" not in s.text


def test_top_k_and_top_p_truncate() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k2 = filter_logits(logits, top_k=2)
    assert torch.isinf(k2[0, 2:]).all() and torch.isfinite(k2[0, :2]).all()
    p = filter_logits(logits, top_p=0.7)  # 0.5 + 0.3 reaches 0.7
    assert torch.isfinite(p[0, :2]).all() and torch.isinf(p[0, 2:]).all()
    p1 = filter_logits(logits, top_p=0.4)
    assert torch.isfinite(p1[0, 0]) and torch.isinf(p1[0, 1:]).all()


def test_corpus_eval(tiny_model: Path, corpus: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    result = lm.eval(corpus)
    assert result.tokens == len(corpus.read_text())
    assert result.chars == len(corpus.read_text())
    assert 1.0 < result.ppl < 10.0
