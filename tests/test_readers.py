"""Every reader bounded and strict (issue 22): ARPA files, pipes and devices, standard input, references.

ARPA damage is generated from one good file by the ``DAMAGE`` table (each case names the line it
breaks and the words of the refusal, which must name ``file:line``); the stream limit is exercised
on a real FIFO with a writer that never stops.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from charlm.cli.paths import InputFile
from charlm.errors import CharlmError
from charlm.eval.nbest import read_refs
from charlm.io import read_text
from charlm.ngram.arpa import vocabulary_words, write_arpa
from charlm.ngram.arpa_read import read_arpa
from charlm.ngram.counts import count_ngrams
from charlm.ngram.kneser_ney import estimate
from charlm.streams import STREAM_LIMIT_ENV, read_stream

VOCAB = ["<unk>", "<eos>", "a", "b", "c", "d"]
WORDS = vocabulary_words(lambda i: VOCAB[i], len(VOCAB), 0, 1)


@pytest.fixture
def arpa(tmp_path: Path) -> Path:
    ids = np.random.default_rng(0).integers(2, len(VOCAB), 400)
    path = tmp_path / "good.arpa"
    write_arpa(estimate(count_ngrams(ids, 3, len(VOCAB), 1)), path, WORDS)
    return path


def _first(lines: list[str], prefix: str) -> int:
    return next(n for n, line in enumerate(lines) if line.startswith(prefix)) + 1


def _edit_field(lines: list[str], at: str, value: str, field: int = 0) -> list[str]:
    n = _first(lines, at)
    fields = lines[n].split("\t")
    fields[field] = value
    return [*lines[:n], "\t".join(fields), *lines[n + 1 :]]


def _edit_backoff(lines: list[str], value: str) -> list[str]:
    n = next(n for n, line in enumerate(lines) if line.count("\t") == 2)  # a line with a back-off
    fields = lines[n].split("\t")
    return [*lines[:n], "\t".join([*fields[:2], value]), *lines[n + 1 :]]


# name -> (how to damage the lines of a good file, words of the one-line refusal)
DAMAGE: dict[str, tuple[Callable[[list[str]], list[str]], str]] = {
    "B8 one extra field": (lambda ls: _edit_field(ls, "\\2-grams:", ls[_first(ls, "\\2-grams:")] + "\tx y"), "fields"),
    "B9 no \\end\\": (lambda ls: [line for line in ls if line != "\\end\\"], "without \\end\\"),
    "B9 truncated": (lambda ls: ls[: len(ls) // 2], "truncated"),
    "B9 count too high": (lambda ls: [ls[0], ls[1].replace("=", "=1"), *ls[2:]], "header declares"),
    "B9 count too low": (lambda ls: [ls[0], "ngram 1=2", *ls[2:]], "more 1-grams"),
    "B9 nan": (lambda ls: _edit_field(ls, "\\2-grams:", "nan"), "not finite"),
    "B9 -inf": (lambda ls: _edit_field(ls, "\\2-grams:", "-inf"), "not finite"),
    "B9 positive": (lambda ls: _edit_field(ls, "\\2-grams:", "0.25"), "above 0"),
    "B9 backoff inf": (lambda ls: _edit_backoff(ls, "inf"), "not finite"),
    "B9 huge count": (lambda ls: [ls[0], "ngram 1=999999999999", *ls[2:]], "over 100,000,000"),
    "order out of sequence": (lambda ls: [ls[0], ls[1], ls[2].replace("ngram 2", "ngram 3"), *ls[3:]], "ngram 2="),
    "back-off at the top order": (
        lambda ls: _edit_field(ls, "\\3-grams:", ls[_first(ls, "\\3-grams:")] + "\t-0.1"),
        "fields",
    ),
    "another vocabulary": (lambda ls: _edit_field(ls, "\\1-grams:", "king", 1), "not a token of this model"),
    "a prefix missing": (
        lambda ls: [*ls[: _first(ls, "\\3-grams:")], "-0.5\t<unk> <unk> a", *ls[_first(ls, "\\3-grams:") + 1 :]],
        "prefix",
    ),
    "not ARPA at all": (lambda ls: ["hello", *ls], "expected \\data\\"),
    "text after \\end\\": (lambda ls: [*ls, "more"], "after \\end\\"),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_arpa_is_refused_in_one_line_naming_file_and_line(arpa: Path, case: str) -> None:
    damage, words = DAMAGE[case]
    bad = arpa.with_name("bad.arpa")
    bad.write_text("\n".join(damage(arpa.read_text(encoding="utf-8").split("\n"))), encoding="utf-8")
    with pytest.raises(CharlmError, match=re.escape(words)) as refused:
        read_arpa(bad, WORDS)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{bad}:"), message


def test_the_good_file_reads(arpa: Path) -> None:
    assert read_arpa(arpa, WORDS).order == 3


@pytest.mark.parametrize("head", [b"", b"\x00" * 100, b"\\data\\\nngram 1=3\n" + b"x" * (1 << 17)])
def test_arpa_reader_is_bounded_by_lines_and_bytes(tmp_path: Path, head: bytes) -> None:
    """Empty, binary, and a line with no end: refused after at most one line's worth of reading."""
    path = tmp_path / "odd.arpa"
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(len(head) + (1 << 36))  # 64 GiB, sparse: a reader that reads on would never finish
    with pytest.raises(CharlmError, match=f"^{path}:"):
        read_arpa(path, WORDS)


def test_arpa_reader_refuses_a_fifo_and_a_device(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.arpa"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(CharlmError, match="not a regular file"):
            read_arpa(path, WORDS)


def test_input_files_refuse_devices() -> None:
    import typer

    for device in ("/dev/zero", "/dev/null", "/dev/urandom"):
        with pytest.raises(typer.BadParameter, match="is a device"):
            InputFile()(device)


def test_an_endless_fifo_is_read_up_to_the_stream_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    monkeypatch.setenv(STREAM_LIMIT_ENV, str(1 << 20))
    fifo = tmp_path / "endless"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer() -> None:
        try:
            with open(fifo, "wb") as fh:
                while not stop.is_set():
                    fh.write(b"the cat sat\n" * 4096)
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(typer.BadParameter, match="more than 1,048,576 bytes"):
            InputFile()(str(fifo))
    finally:
        stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_standard_input_is_bounded_and_refuses_nul_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STREAM_LIMIT_ENV, "100")
    with pytest.raises(CharlmError, match="more than 100 bytes"):
        read_stream(io.BytesIO(b"a" * 101))
    assert read_stream(io.BytesIO(b"a" * 100)) == "a" * 100

    class Zeros(io.RawIOBase):  # /dev/zero: endless NUL bytes
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            buffer[:] = b"\x00" * len(buffer)
            return len(buffer)

    monkeypatch.delenv(STREAM_LIMIT_ENV)
    with pytest.raises(CharlmError, match="NUL"):
        read_stream(io.BufferedReader(Zeros()))


def test_files_read_whole_are_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:
        fh.write(b"0\tthe cat\t-1\n")
        fh.truncate(1 << 40)  # 1 TiB, sparse
    with pytest.raises(CharlmError, match="over the 100 this reads"):
        read_text(big, limit=100)


def test_b19_a_reference_id_given_twice_is_refused(tmp_path: Path) -> None:
    refs = tmp_path / "refs.txt"
    refs.write_text("u1\tthe cat\nu2\ta dog\nu1\tthe hat\n", encoding="utf-8")
    with pytest.raises(CharlmError, match=f"^{refs}:3: a second reference for id 'u1'"):
        read_refs(refs, ["u1", "u2"])
