"""The one text reader and the one atomic writer: every command reads and writes files through here.

Reading: a file is checked (exists, is a file, readable), its codec is checked (a known *text*
encoding; ``--errors`` strict, replace or ignore), then decoded incrementally in chunks that end at
a line break, with the BOM dropped, CRLF normalised and NUL bytes refused anywhere in a UTF-8 file.
The same file therefore gets the same verdict, in the same words, from train, eval, score and
tokenize. A byte range ``[start, end)`` that begins at a line start reads one part of a file (the
parallel rows of a streamed evaluation)::

    file bytes:  |---- row 0 ----|---- row 1 ----|---- row 2 ----|      line_starts() cuts just after a newline

Writing: :func:`write_bytes_atomic` writes a temp file beside the target, fsyncs it, renames it over
the target and fsyncs the directory, so a crash leaves either the old file or the new one, never a
mix and never a stray temp.
"""

from __future__ import annotations

import codecs
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from charlm.errors import BadOption, CharlmError
from charlm.layout import MODEL_MARKERS  # the files that make a directory a model
from charlm.progress import Progress, silent

CHUNK_BYTES = 1 << 20
ERRORS = ("strict", "replace", "ignore")


def check_codec(encoding: str, errors: str) -> codecs.CodecInfo:
    """The codec for ``encoding``, refusing unknown or non-text codecs and unknown ``--errors`` modes."""
    if errors not in ERRORS:
        raise CharlmError(f"unknown --errors {errors!r}; use {', '.join(ERRORS)}")
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise CharlmError(f"unknown encoding {encoding!r}; try utf-8, latin-1 or cp1252") from None
    if not getattr(info, "_is_text_encoding", True):
        raise CharlmError(f"{encoding!r} is not a text encoding; try utf-8, latin-1 or cp1252")
    return info


def check_text_file(path: str | Path) -> int:
    """The size in bytes of ``path`` after refusing a missing, directory or unreadable path."""
    if not isinstance(path, (str, os.PathLike)):
        raise BadOption(f"a file path is needed here (got {type(path).__name__})")
    path = Path(path)
    if not path.exists():
        raise CharlmError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise CharlmError(f"{path} is a directory; give a text file")
    if not os.access(path, os.R_OK):
        raise CharlmError(f"{path}: cannot read it (permission denied)")
    try:
        return path.stat().st_size
    except OSError as exc:
        raise CharlmError(f"{path}: cannot read it ({exc.strerror})") from None


def _is_utf8(info: codecs.CodecInfo) -> bool:
    return info.name in ("utf-8", "utf-8-sig")


def ascii_compatible(encoding: str) -> bool:
    """Whether a newline is the byte 0x0A and never part of another character (so files cut at it)."""
    return "\n".encode(check_codec(encoding, "strict").name) == b"\n" and not encoding.lower().startswith("utf-16")


def _cut(text: str, final: bool, limit: int) -> int:
    """Where to end this chunk: after the last newline, else the last space, else (huge line) anywhere."""
    if final:
        return len(text)
    cut = text.rfind("\n") + 1 or text.rfind(" ") + 1
    if cut == 0 and len(text) >= limit:
        cut = len(text) - 1 if text.endswith("\r") else len(text)  # keep a CR with its LF
    return cut


class TextReader:
    """Decoded chunks of bytes ``[start, end)`` of a text file, each ending at a line break.

    ``done`` counts the bytes consumed so far (for progress bars); ``seen_text`` whether any chunk
    held more than whitespace.
    """

    def __init__(
        self,
        path: str | Path,
        encoding: str = "utf-8",
        errors: str = "strict",
        start: int = 0,
        end: int | None = None,
        chunk_bytes: int | None = None,
        hint: str = "pass --encoding NAME or --errors replace",
    ) -> None:
        self.info = check_codec(encoding, errors)
        self.hint = hint
        self.path, self.encoding, self.errors = Path(path), encoding, errors
        size = check_text_file(self.path)
        self.start, self.end = start, size if end is None else end
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES  # read at call time, so tests can shrink it
        self.done = 0
        self.seen_text = False

    def _bad_byte(self, offset: int) -> CharlmError:
        return CharlmError(f"{self.path} is not valid {self.encoding} (bad byte at offset {offset}); {self.hint}")

    def __iter__(self) -> Iterator[str]:
        decoder = self.info.incrementaldecoder(self.errors)
        carry, pos, first = "", self.start, self.start == 0
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            while True:
                raw = fh.read(min(self.chunk_bytes, self.end - pos))
                final = not raw
                pending = len(decoder.getstate()[0])
                try:
                    text = carry + decoder.decode(raw, final)
                except UnicodeDecodeError as exc:
                    raise self._bad_byte(pos - pending + exc.start) from None
                pos += len(raw)
                self.done = pos - self.start
                if "\x00" in text:
                    raise CharlmError(f"{self.path} looks like a binary file (it contains NUL bytes); give a text file")
                if first:
                    text, first = text.lstrip("\ufeff"), False
                cut = _cut(text, final, self.chunk_bytes)
                piece, carry = text[:cut], text[cut:]
                if piece:
                    self.seen_text = self.seen_text or not piece.isspace()
                    yield piece.replace("\r\n", "\n")
                if final:
                    return


def empty_file(path: str | Path) -> CharlmError:
    return CharlmError(f"{path} is empty or only whitespace; give a file with some text")


def iter_chunks(
    path: str | Path,
    encoding: str = "utf-8",
    errors: str = "strict",
    chunk_bytes: int | None = None,
    hint: str = "pass --encoding NAME or --errors replace",
    progress: Progress = silent,
    stage: str = "reading",
) -> Iterator[str]:
    """The decoded text of ``path`` in pieces that end at line breaks; refuses a file with no text.

    ``progress(stage, bytes read, bytes in all)`` after each piece (:mod:`charlm.progress`).
    """
    reader = TextReader(path, encoding, errors, chunk_bytes=chunk_bytes, hint=hint)
    total = reader.end - reader.start
    progress = progress if total else silent  # an empty file: nothing to report (0 would read as "unknown")
    for piece in reader:  # the first report after the first chunk: a file refused there shows one line, its error
        yield piece
        progress(stage, reader.done, total)
    if not reader.seen_text:
        raise empty_file(path)


def read_text(
    path: str | Path,
    encoding: str = "utf-8",
    errors: str = "strict",
    hint: str = "pass --encoding NAME or --errors replace",
    limit: int | None = None,
) -> str:
    """A whole text file as one string (BOM dropped, CRLF normalised), with the reader's checks.

    ``limit``: refuse, before reading, a file of more bytes (what is read whole into memory is bounded).
    """
    if limit is not None and check_text_file(path) > limit:
        raise CharlmError(
            f"{path} holds {check_text_file(path):,} bytes, over the {limit:,} this reads; give a smaller file"
        )
    return "".join(iter_chunks(path, encoding, errors, hint=hint))


UTF8_HINT = "save it as UTF-8 (e.g. iconv -t utf-8)"
SMALL_FILE = 256 << 20  # a prime, an n-best list, references: read whole into memory, so bounded


def _finite_or_none(value: Any, key: str, reasons: dict[str, str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        reasons[key] = f"not a finite number ({value})"
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v, str(k), reasons) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v, key, reasons) for v in value]
    return value


def strict_payload(payload: Any) -> Any:
    """``payload`` with every NaN/infinity replaced by null; a top-level dict gains ``null_reasons``."""
    reasons: dict[str, str] = {}
    clean = _finite_or_none(payload, "value", reasons)
    if reasons and isinstance(clean, dict):
        clean["null_reasons"] = {**clean.get("null_reasons", {}), **reasons}
    return clean


def json_text(payload: Any, indent: int | None = None) -> str:
    """Strict JSON text (never NaN or Infinity): what every ``--json`` output prints."""
    return json.dumps(strict_payload(payload), ensure_ascii=False, indent=indent, allow_nan=False)


def line_starts(path: str | Path, size: int, rows: int, encoding: str = "utf-8") -> list[int]:
    """``rows + 1`` byte offsets, each at the start of a line, cutting the file into near-equal parts.

    Files in encodings where a newline byte can sit inside another character (UTF-16, UTF-32) are not cut.
    Each cut looks at most :data:`CHUNK_BYTES` ahead for its newline (no newline there: no cut, so fewer
    parts), so a file of one endless line (or of NUL bytes) costs ``rows`` bounded reads, not the file.
    """
    if not ascii_compatible(encoding):
        rows = 1
    cuts = [0]
    with open(path, "rb") as fh:
        for r in range(1, rows):
            fh.seek(max(size * r // rows - 1, cuts[-1]))
            line = fh.readline(CHUNK_BYTES)  # to just after the next newline, if it is near
            if line.endswith(b"\n"):
                cuts.append(max(fh.tell(), cuts[-1]))
    return sorted(set([*cuts, size]))


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` via a temp file, fsync and rename; a failed write leaves the old file and no temp."""
    write_atomic(path, lambda fh: fh.write(data))


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write ``payload`` as strict UTF-8 JSON (no NaN or infinity) via the atomic writer."""
    text = json.dumps(payload, ensure_ascii=False, indent=1, allow_nan=False)
    write_bytes_atomic(path, text.encode("utf-8"))


def append_line(path: Path, line: str) -> None:
    """Append one line to a log (metrics.jsonl): the one non-atomic write, flushed, a torn line is skipped by readers."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")


def write_atomic(path: Path, write: Any) -> None:
    """Call ``write(fh)`` on a temp file beside ``path``, fsync it, rename it over ``path``, fsync the directory."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


_RENAME_EXCHANGE = 2


def exchange_dirs(a: Path, b: Path) -> None:
    """Swap two directories atomically (Linux renameat2 RENAME_EXCHANGE), else with two renames.

    After the call ``b`` holds what ``a`` held and ``a`` what ``b`` held; readers of ``b`` see the old
    or the new directory, never neither. Where the kernel lacks the exchange, ``b`` is missing for
    the moment between two renames.
    """
    a, b = Path(a), Path(b)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd = -100
        if libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            fsync_dir(b.parent)
            return
    except (OSError, AttributeError):
        pass
    aside = b.with_name(f".{b.name}.aside-{os.getpid()}")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)
    fsync_dir(b.parent)


def is_model_dir(directory: str | Path) -> bool:
    """Whether ``directory`` holds a model's files (a writer's refusals are :func:`charlm.writer.check_target`'s)."""
    directory = Path(directory)
    return directory.is_dir() and any((directory / name).exists() for name in MODEL_MARKERS)
