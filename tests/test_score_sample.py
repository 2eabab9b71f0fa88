"""Scoring and sampling through the Python API: batching, conventions, seeds, <unk>."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import charlm
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
    a = lm.sample("the ", length=50, temperature=1.5, seed=7)[0]
    b = lm.sample("the ", length=50, temperature=1.5, seed=7)[0]
    c = lm.sample("the ", length=50, temperature=1.5, seed=8)[0]
    assert a.text == b.text
    assert a.text != c.text
    assert len(a.ids) == 50


def test_greedy_is_the_most_probable_path_and_num_gives_that_many_rows(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    greedy = lm.sample("the ", length=20, temperature=0, num=3, seed=1)
    assert len(greedy) == 3 and all(len(s.ids) == 20 for s in greedy)
    assert {s.text for s in greedy} == {lm.sample("the ", length=20, temperature=0, seed=2)[0].text}  # seed unused
    assert greedy[0].text == lm.beam("the ", width=1, length=20)[0].text  # a width-1 beam is greedy decoding
    drawn = lm.sample("the ", length=20, temperature=1.5, num=3, seed=1, ngram_weight=0)
    assert len(drawn) == 3 and len({s.text for s in drawn}) == 3  # the rows of one batch are separate draws


def test_word_sampling_never_emits_unk_and_stops_at_eos(tiny_word_model: Path) -> None:
    lm = charlm.load(tiny_word_model, device="cpu")
    for s in lm.sample("", length=30, temperature=3.0, num=8, seed=1, until_eos=True):
        assert UNK_ID not in s.ids
        assert "\n" not in s.text


def test_corpus_eval(tiny_model: Path, corpus: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    result = lm.eval(corpus)
    assert result.tokens == len(corpus.read_text())
    assert result.chars == len(corpus.read_text())
    assert 1.0 < result.ppl < 10.0


def test_batched_equals_one_at_a_time_on_a_deeper_random_model() -> None:
    from charlm.eval.score import score_sentences
    from charlm.models.base import build_model
    from charlm.models.config import ModelConfig
    from charlm.tokenizers import build_tokenizer

    tok = build_tokenizer("char", "abcdefgh ij\n")
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=tok.vocab_size, arch="gru", layers=2, hidden=24, embed=8)).eval()
    texts = ["", "a", "abc def", "hij" * 20, "zz unknown", "gafe " * 7] * 3
    one = [score_sentences(model, tok, [t], batch_size=1)[0].logprob for t in texts]
    for batch in (4, 64):
        batched = [s.logprob for s in score_sentences(model, tok, texts, batch_size=batch)]
        assert batched == pytest.approx(one, abs=1e-5)
    bf16 = [s.logprob for s in score_sentences(model, tok, texts, precision="bf16")]
    assert bf16 == pytest.approx(one, rel=0.02, abs=0.05)  # approximate by design; fp32 stays the default


def test_api_rank_normalize_and_margin(tiny_model: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    texts = ["the cat sat on the mat", "the cat"]
    by_total = lm.rank(texts)
    best, second = by_total.scores
    assert best.logprob >= second.logprob and best.rank == 1
    assert by_total.margin == pytest.approx(best.logprob - second.logprob)
    by_char = lm.score(texts, normalize="char")
    assert {s.rank for s in by_char} == {1, 2}
    assert by_char[0].score == pytest.approx(by_char[0].logprob / by_char[0].chars)
    with pytest.raises(charlm.CharlmError):
        lm.score(texts, normalize="median")


def test_streamed_eval_in_rows_and_chunks(tiny_model: Path, corpus: Path) -> None:
    lm = charlm.load(tiny_model, device="cpu")
    from charlm.eval.corpus import eval_file

    one = eval_file(lm.module, lm.tokenizer, corpus, batch_size=1)
    chunked = eval_file(lm.module, lm.tokenizer, corpus, batch_size=1, window=7, chunk_bytes=100)
    rows = eval_file(lm.module, lm.tokenizer, corpus, batch_size=8, min_row_bytes=256)
    assert chunked.logprob == pytest.approx(one.logprob, rel=1e-5)  # carried state: chunking changes nothing
    assert rows.rows == 8 and rows.tokens == one.tokens and rows.chars == one.chars
    assert rows.ppl == pytest.approx(one.ppl, rel=0.01)  # 7 line starts forget their context
    independent = lm.eval(corpus, independent=True)
    assert independent.tokens == one.tokens and independent.ppl > one.ppl


def test_word_level_continuation_joins_with_a_space(tiny_word_model: Path) -> None:
    lm = charlm.load(tiny_word_model, device="cpu")
    s = lm.sample("the cat", length=3, temperature=0)[0]
    assert s.text.startswith(" ") and len(s.text.split()) == 3
    b = lm.beam("the cat", width=3, length=2)[0]
    assert b.text.startswith(" ") and b.tokens == 2
