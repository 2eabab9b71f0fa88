"""Known answers on a hand-built bigram model: scores, OOV, eval, truncation, greedy, beam, seeds."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from charlm.eval.beam import beam_search
from charlm.eval.corpus import eval_file, score_text
from charlm.eval.sample import filter_logits, sample
from charlm.eval.score import rank, ranking, score_sentences
from charlm.models.base import LanguageModel
from tests import handbuilt as hb
from tests.handbuilt import EOS, UNK, A, B


@pytest.fixture
def bigram() -> Iterator[LanguageModel]:
    with hb.registered():
        yield hb.build()


def test_sentence_logprob_is_the_table_sum(bigram: LanguageModel) -> None:
    s = score_sentences(bigram, hb.tokenizer(), ["ab"], per_token=True)[0]
    assert s.logprob == pytest.approx(hb.logprob([A, B, EOS]), abs=1e-6)
    assert [t for t, _ in s.per_token or []] == ["a", "b", "<eos>"]
    assert s.per_token is not None and s.per_token[1][1] == pytest.approx(hb.log_table()[A][B], abs=1e-6)
    assert (s.tokens, s.chars, s.oov) == (3, 3, 0)
    assert s.bits == pytest.approx(-s.logprob / math.log(2))
    assert s.bpc == pytest.approx(s.bits / 3)


def test_oov_accounting(bigram: LanguageModel) -> None:
    s = score_sentences(bigram, hb.tokenizer(), ["axb"])[0]  # x is not in the vocabulary
    assert (s.tokens, s.oov) == (4, 1)
    logp = hb.log_table()
    assert s.logprob == pytest.approx(logp[EOS][A] + logp[A][UNK] + logp[UNK][B] + logp[B][EOS], abs=1e-6)
    assert s.logprob_no_oov == pytest.approx(logp[EOS][A] + logp[UNK][B] + logp[B][EOS], abs=1e-6)
    assert s.ppl == pytest.approx(math.exp(-s.logprob / 4))
    assert s.ppl_no_oov == pytest.approx(math.exp(-s.logprob_no_oov / 3))


def test_ranking_and_normalization(bigram: LanguageModel) -> None:
    tok = hb.tokenizer()
    scores = score_sentences(bigram, tok, ["a", "bbbb"])
    by_total = ranking(scores, "total")
    assert [s.text for s in by_total.scores] == ["a", "bbbb"]  # fewer tokens, more total probability
    assert by_total.margin == pytest.approx(scores[0].logprob - scores[1].logprob)
    by_token = ranking(scores, "token")
    assert [s.text for s in by_token.scores] == ["bbbb", "a"]  # b after b is likely, so per token it wins
    assert by_token.margin == pytest.approx(scores[1].logprob / 5 - scores[0].logprob / 2)
    by_char = rank(scores, "char")
    assert [s.rank for s in by_char] == [2, 1] and by_char[0].score == pytest.approx(scores[0].logprob / 2)


def test_streamed_eval_rows_and_chunks_are_exact_for_a_bigram(bigram: LanguageModel, tmp_path: Path) -> None:
    tok = hb.tokenizer()
    text = "ab\nba\n\nbbb\nabxa\n" * 5
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    ids = tok.encode(text)
    want = hb.logprob(ids)
    one = eval_file(bigram, tok, path, batch_size=1)
    many = eval_file(bigram, tok, path, batch_size=4, window=3, chunk_bytes=5, min_row_bytes=1)
    assert many.rows == 4
    for result in (one, many, score_text(bigram, tok, text, rows=3)):
        assert result.logprob == pytest.approx(want, abs=1e-5)  # a bigram forgets nothing at a line start
        assert (result.tokens, result.chars, result.oov) == (len(ids), len(text), 5)


def test_independent_eval_sums_sentences(bigram: LanguageModel, tmp_path: Path) -> None:
    tok = hb.tokenizer()
    path = tmp_path / "t.txt"
    path.write_text("ab\n\nbb\nb", encoding="utf-8")
    result = eval_file(bigram, tok, path, independent=True)
    parts = score_sentences(bigram, tok, ["ab", "", "bb", "b"])
    assert result.mode == "independent"
    assert result.logprob == pytest.approx(sum(p.logprob for p in parts), abs=1e-6)
    assert result.tokens == 3 + 1 + 3 + 2


def test_top_k_and_top_p_truncate() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k2 = filter_logits(logits, top_k=2)
    assert torch.isinf(k2[0, 2:]).all() and torch.isfinite(k2[0, :2]).all()
    p = filter_logits(logits, top_p=0.7)  # 0.5 + 0.3 reaches 0.7
    assert torch.isfinite(p[0, :2]).all() and torch.isinf(p[0, 2:]).all()
    p1 = filter_logits(logits, top_p=0.4)
    assert torch.isfinite(p1[0, 0]) and torch.isinf(p1[0, 1:]).all()
    assert torch.isfinite(filter_logits(logits, top_p=1.0)).all()


def _first_tokens(model: LanguageModel, **options: object) -> Counter[int]:
    drawn = sample(model, hb.tokenizer(), length=1, num=4000, seed=0, **options)  # type: ignore[arg-type]
    return Counter(s.ids[0] for s in drawn)


def test_sampling_follows_the_truncated_distribution(bigram: LanguageModel) -> None:
    full = _first_tokens(bigram)
    assert set(full) == {EOS, A, B} and full[A] / 4000 == pytest.approx(0.5, abs=0.03)
    top2 = _first_tokens(bigram, top_k=2)
    assert set(top2) == {A, B} and top2[A] / 4000 == pytest.approx(0.5 / 0.9, abs=0.03)
    assert set(_first_tokens(bigram, top_p=0.45)) == {A}
    assert set(_first_tokens(bigram, top_p=0.85)) == {A, B}
    cold = _first_tokens(bigram, temperature=0.25)  # p^4: a dominates b by (5/4)^4 = 2.44
    assert cold[A] / (cold[A] + cold[B]) == pytest.approx(0.5**4 / (0.5**4 + 0.4**4), abs=0.03)


def test_never_emits_unk() -> None:
    table = [row[:] for row in hb.TABLE]
    table[EOS] = [0.9, 0.02, 0.04, 0.04]  # <unk> is the likeliest token from the start
    with hb.registered():
        model = hb.build(table)
        drawn = sample(model, hb.tokenizer(), length=5, num=500, seed=1, temperature=1.0)
        greedy = sample(model, hb.tokenizer(), length=1, temperature=0)[0]
    assert all(UNK not in s.ids for s in drawn)
    assert greedy.ids == [A]  # argmax without <unk> (a ties b; argmax takes the first)


def test_greedy_logprob_and_until_eos(bigram: LanguageModel) -> None:
    s = sample(bigram, hb.tokenizer(), length=3, temperature=0)[0]
    assert s.ids == [A, A, A] and s.text == "aaa"
    assert s.logprob == pytest.approx(hb.logprob([A, A, A]), abs=1e-5)
    primed = sample(bigram, hb.tokenizer(), prime="b", length=2, temperature=0)[0]
    assert primed.ids == [B, B] and primed.logprob == pytest.approx(hb.logprob([B, B], start=B), abs=1e-5)
    drawn = sample(bigram, hb.tokenizer(), length=50, num=20, seed=3, until_eos=True)
    for d in drawn:
        assert d.logprob == pytest.approx(hb.logprob(d.ids), abs=1e-4)
        assert (d.ended == "eos") == (d.ids[-1] == EOS) and "\n" not in d.text


def test_stop_string_cuts_and_streams_nothing_past_it(bigram: LanguageModel) -> None:
    tok = hb.tokenizer()
    held: list[str] = []
    greedy = sample(bigram, tok, length=40, temperature=0, stop=["aa"], on_token=lambda row, text: held.append(text))[0]
    assert greedy.ended == "stop" and greedy.text == "" and greedy.ids == [A, A] and held == []
    for seed in range(20):
        streamed: list[str] = []
        s = sample(
            bigram,
            tok,
            length=40,
            seed=seed,
            stop=["bb", "ab\n"],
            on_token=lambda row, text, out=streamed: out.append(text),
        )[0]
        assert "".join(streamed) == s.text
        assert "bb" not in s.text and "ab\n" not in s.text
        full = tok.decode(s.ids)
        if s.ended == "stop":
            assert full.startswith(s.text) and full[len(s.text) :][:2] in ("bb", "ab")


def test_same_seed_same_samples(bigram: LanguageModel) -> None:
    tok = hb.tokenizer()
    a = sample(bigram, tok, length=30, num=3, seed=5)
    b = sample(bigram, tok, length=30, num=3, seed=5)
    c = sample(bigram, tok, length=30, num=3, seed=6)
    assert [s.ids for s in a] == [s.ids for s in b]
    assert [s.ids for s in a] != [s.ids for s in c]
    streamed: dict[int, str] = {}
    live = sample(
        bigram, tok, length=30, num=3, seed=5, on_token=lambda r, t: streamed.update({r: streamed.get(r, "") + t})
    )
    assert [s.text for s in live] == [s.text for s in a] == [streamed.get(r, "") for r in range(3)]


@pytest.mark.parametrize("length", [1, 2, 3])
@pytest.mark.parametrize(("until_eos", "normalize"), [(False, False), (True, False), (True, True)])
def test_wide_beam_equals_brute_force(bigram: LanguageModel, length: int, until_eos: bool, normalize: bool) -> None:
    want_ids, want_lp = hb.brute_force(length, until_eos, normalize)
    best = beam_search(bigram, hb.tokenizer(), width=9, length=length, until_eos=until_eos, normalize=normalize)[0]
    assert best.ids == want_ids
    assert best.logprob == pytest.approx(want_lp, abs=1e-5)
    assert best.finished == until_eos


def test_beam_finds_what_greedy_misses(bigram: LanguageModel) -> None:
    tok = hb.tokenizer()
    greedy = sample(bigram, tok, length=2, temperature=0)[0]
    narrow = beam_search(bigram, tok, width=1, length=2)[0]
    wide = beam_search(bigram, tok, width=2, length=2)
    assert narrow.ids == greedy.ids == [A, A]
    assert wide[0].ids == [B, B] and wide[0].text == "bb"
    assert wide[0].logprob == pytest.approx(math.log(0.4 * 0.8999), abs=1e-6)
    assert len(wide) == 2 and wide[0].logprob >= wide[1].logprob
