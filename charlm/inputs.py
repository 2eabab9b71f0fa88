"""Input from anywhere: several files, a directory (its ``*.txt`` files, sorted) or ``-`` for standard
input, joined into one text file that the one reader (:mod:`charlm.io`) then reads like any other.

``train``, ``tokenize`` and ``eval`` take their inputs through :func:`resolve_inputs`.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from charlm.errors import BadOption, CharlmError
from charlm.io import CHUNK_BYTES, TextReader, check_codec, check_text_file
from charlm.streams import over_stream_limit, stream_limit

STDIN = "-"


def _input_files(paths: list[Path]) -> list[Path]:
    """Each argument as files: a directory gives its ``*.txt`` sorted by name, ``-`` stays as stdin."""
    files: list[Path] = []
    for path in paths:
        if str(path) != STDIN and path.is_dir():
            found = sorted(p for p in path.glob("*.txt") if p.is_file())
            if not found:
                raise BadOption(f"{path} is a directory with no *.txt files; give text files or a folder of them")
            files.extend(found)
        else:
            files.append(path)
    if sum(str(p) == STDIN for p in files) > 1:
        raise BadOption("give '-' (standard input) at most once")
    return files


def _copy_text(out: Any, source: Iterator[str]) -> bool:
    """Write ``source`` as UTF-8 to ``out``; return whether it ended with a newline (True when empty)."""
    last = "\n"
    for piece in source:
        if piece:
            out.write(piece.encode("utf-8"))
            last = piece[-1]
    return last == "\n"


def _is_utf8(encoding: str) -> bool:
    return check_codec(encoding, "strict").name in ("utf-8", "utf-8-sig")


def _stdin_text(encoding: str, errors: str) -> Iterator[str]:
    """Standard input decoded in chunks, up to :func:`charlm.streams.stream_limit` bytes (an endless stream is refused)."""
    decoder = check_codec(encoding, errors).incrementaldecoder(errors)
    data, carry, first = sys.stdin.buffer, "", True
    limit, done = stream_limit(), 0
    while True:
        raw = data.read(CHUNK_BYTES)
        done += len(raw)
        if done > limit:
            raise over_stream_limit("standard input", limit)
        if _is_utf8(encoding) and b"\x00" in raw:
            raise CharlmError("standard input looks like binary data (it contains NUL bytes); give text")
        try:
            text = carry + decoder.decode(raw, not raw)
        except UnicodeDecodeError:
            raise CharlmError(
                f"standard input is not valid {encoding}; pass --encoding NAME or --errors replace"
            ) from None
        if first:
            text, first = text.lstrip("\ufeff"), False
        cut = len(text) - 1 if raw and text.endswith("\r") else len(text)  # keep a CR with its LF
        text, carry = text[:cut], text[cut:]
        yield text.replace("\r\n", "\n")
        if not raw:
            return


@contextlib.contextmanager
def resolve_inputs(
    paths: str | Path | Sequence[str | Path], encoding: str = "utf-8", errors: str = "strict"
) -> Iterator[tuple[Path, str, str]]:
    """One readable text file for several inputs: ``(path, encoding, errors)`` to read it with.

    A single file comes back as it is (nothing copied). Several files, a directory (its ``*.txt``
    files, sorted by name) or ``-`` (standard input) are decoded and joined, in order, into one
    temporary UTF-8 file, with a newline added after a file that does not end with one (so a line
    never runs on into the next file); it is removed when the ``with`` block ends.
    """
    given = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not given:
        raise BadOption("give at least one input file, a directory, or - for standard input")
    files = _input_files(given)
    if len(files) == 1 and str(files[0]) != STDIN:
        yield files[0], encoding, errors
        return
    for f in files:
        if str(f) != STDIN:
            check_text_file(f)
    with tempfile.TemporaryDirectory(prefix="charlm-inputs-") as tmp:
        joined = Path(tmp) / "inputs.txt"
        with open(joined, "wb") as out:
            for f in files:
                text = _stdin_text(encoding, errors) if str(f) == STDIN else TextReader(f, encoding, errors)
                if not _copy_text(out, iter(text)):
                    out.write(b"\n")
        yield joined, "utf-8", "strict"
