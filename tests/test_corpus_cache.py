"""Streaming tokenization into a memmap: same ids as encoding the whole text, cached, refused when stale."""

from __future__ import annotations

import numpy as np
import pytest

from charlm.errors import CharlmError
from charlm.io import read_text
from charlm.tokenizers import LEVELS, build_tokenizer
from charlm.training.corpus_cache import encode_file, fit_tokenizer, iter_chunks
from tests.conftest import TINY_TEXT

MIXED = ("naïve café — 中文字符 emoji 🙂\r\n" + TINY_TEXT[:400]) * 30


@pytest.mark.parametrize("level", LEVELS)
def test_streamed_ids_equal_whole_text_ids(level: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import charlm.io as charlm_io

    monkeypatch.setattr(charlm_io, "CHUNK_BYTES", 1000)  # many chunks, multi-byte characters cut across reads
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbf" + MIXED.encode())
    text = read_text(path)
    streamed = fit_tokenizer(path, level, vocab_size=300)
    cache = encode_file(path, streamed, tmp_path)
    assert cache.chars == len(text)
    if level != "bpe":  # sentencepiece: the ids must match its own encoding, checked below
        whole = build_tokenizer(level, text)
        assert streamed.to_json() == whole.to_json()
    assert np.array_equal(np.asarray(cache.ids, dtype=np.int64), streamed.encode_array(text))
    assert cache.ids.dtype == np.uint16 and isinstance(cache.ids, np.memmap)


def test_cache_is_reused_and_rebuilt_when_the_file_changes(tmp_path) -> None:
    path = tmp_path / "c.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    tok = fit_tokenizer(path, "char")
    first = encode_file(path, tok, tmp_path)
    stamp = (tmp_path / "corpus.ids").stat().st_mtime_ns
    again = encode_file(path, tok, tmp_path)
    assert (tmp_path / "corpus.ids").stat().st_mtime_ns == stamp and again.tokens == first.tokens
    path.write_text(TINY_TEXT + "more\n", encoding="utf-8")
    changed = encode_file(path, tok, tmp_path)
    assert changed.tokens == first.tokens + 5


def test_nul_bytes_far_into_the_file_are_caught(tmp_path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"text line\n" * 1000 + b"\x00\x00binary")
    with pytest.raises(CharlmError, match="binary"):
        list(iter_chunks(path, chunk_bytes=512))
