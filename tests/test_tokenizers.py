"""Tokenizer round-trips (property tests), <unk>/<eos> handling and save/load for every level."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charlm.tokenizers import EOS_ID, UNK_ID, build_tokenizer, load_tokenizer
from charlm.tokenizers.char import CharTokenizer
from charlm.tokenizers.word import WordTokenizer

CHINESE = "循环神经网络可以处理序列。\n长短期记忆网络解决梯度消失问题。\n"


def test_char_handles_chinese_code_points() -> None:
    tok = CharTokenizer.fit(CHINESE)
    ids = tok.encode(CHINESE)
    assert len(ids) == len(CHINESE)  # one token per code point, not per byte
    assert tok.decode(ids) == CHINESE
    assert ids.count(EOS_ID) == 2


def test_char_unknown_characters_map_to_unk() -> None:
    tok = CharTokenizer.fit("abc\n")
    assert tok.encode("abz") == [tok.encode("a")[0], tok.encode("b")[0], UNK_ID]


@given(st.text(min_size=1, max_size=200))
@settings(max_examples=200, deadline=None)
def test_char_round_trip_on_its_own_alphabet(text: str) -> None:
    tok = CharTokenizer.fit(text)
    assert tok.decode(tok.encode(text)) == text


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Zs", "Cc", "Zl", "Zp"]), min_size=1, max_size=8).filter(
            lambda w: w not in ("<unk>", "<eos>")
        ),
        min_size=1,
        max_size=20,
    )
)
@settings(max_examples=100, deadline=None)
def test_word_round_trip_on_normalised_text(words: list[str]) -> None:
    text = " ".join(words) + "\n" + " ".join(reversed(words))
    tok = WordTokenizer.fit(text)
    assert tok.decode(tok.encode(text)) == text


def test_word_unk_eos_and_literal_unk() -> None:
    tok = WordTokenizer.fit("a a a b b c <unk>\n", max_vocab=4)  # <unk>, <eos>, a, b
    assert tok.vocab_size == 4
    ids = tok.encode("a b c <unk>\nd")
    assert ids == [2, 3, UNK_ID, UNK_ID, EOS_ID, UNK_ID]


def test_word_min_count() -> None:
    tok = WordTokenizer.fit("a a b\n", min_count=2)
    assert tok.encode("a b") == [2, UNK_ID]


@pytest.mark.parametrize("level", ["bpe", "unigram"])
def test_subword_exact_round_trip_with_byte_fallback(level: str, tmp_path: Path) -> None:
    text = ("the quick brown fox jumps over the lazy dog  and   spaces\n" * 30) + CHINESE * 5
    tok = build_tokenizer(level, text, vocab_size=400)
    for sample in (text[:500], "  leading spaces and trailing  ", "unseen 字 and émoji 🙂\n\nblank lines\n"):
        ids = tok.encode(sample)
        assert UNK_ID not in ids
        assert tok.decode(ids) == sample
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.encode(text[:300]) == tok.encode(text[:300])


@pytest.mark.parametrize("level", ["char", "word"])
def test_save_load_round_trip(level: str, tmp_path: Path) -> None:
    text = "hello world\nhello there 你好\n"
    tok = build_tokenizer(level, text)
    tok.save(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.vocab_size == tok.vocab_size
    assert again.encode(text) == tok.encode(text)
    assert again.decode(again.encode(text)) == tok.decode(tok.encode(text))
