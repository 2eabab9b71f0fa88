"""Reading what has no size: pipes, FIFOs and standard input, once, up to a stated limit.

A pipe, a FIFO or standard input is read in chunks of :data:`charlm.io.CHUNK_BYTES` and refused past
:func:`stream_limit` bytes (1 GiB, or ``$CHARLM_MAX_STREAM_BYTES``), so an endless stream (``yes``,
a FIFO fed forever) never fills the disk or the memory; standard input read as text is also refused
at its first NUL byte (``< /dev/zero``), at once.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from charlm.errors import CharlmError
from charlm.io import CHUNK_BYTES, UTF8_HINT

STREAM_LIMIT_ENV = "CHARLM_MAX_STREAM_BYTES"


def stream_limit() -> int:
    """Bytes read from a pipe, a FIFO or standard input at most (``$CHARLM_MAX_STREAM_BYTES``, default 1 GiB)."""
    text = os.environ.get(STREAM_LIMIT_ENV, "")
    return int(text) if text.isdigit() and int(text) > 0 else 1 << 30


def over_stream_limit(name: str, limit: int) -> CharlmError:
    return CharlmError(
        f"{name} sends more than {limit:,} bytes, charlm's limit for a pipe or FIFO "
        f"(${STREAM_LIMIT_ENV}); save it to a file and give the file"
    )


def copy_stream(src: BinaryIO, write: Any, name: str, nul_ok: bool = False) -> int:
    """Copy ``src`` in chunks through ``write`` up to :func:`stream_limit` bytes; refuse NUL bytes at once
    unless ``nul_ok`` (a FIFO spooled for a reader that knows the encoding: UTF-16 holds NUL bytes)."""
    limit, done = stream_limit(), 0
    while True:
        chunk = src.read(CHUNK_BYTES)
        if not chunk:
            return done
        if not nul_ok and b"\x00" in chunk:
            raise CharlmError(f"{name} looks like binary data (it contains NUL bytes); give UTF-8 text")
        done += len(chunk)
        if done > limit:
            raise over_stream_limit(name, limit)
        write(chunk)


def read_stream(stream: BinaryIO, name: str = "stdin") -> str:
    """Read a byte stream (stdin) once, with the same checks as a file: UTF-8, no NUL; may be blank; bounded."""
    parts: list[bytes] = []
    copy_stream(stream, parts.append, name)
    data = b"".join(parts)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CharlmError(f"{name} is not valid utf-8 (bad byte at offset {exc.start}); {UTF8_HINT}") from None
    return text.lstrip("\ufeff").replace("\r\n", "\n")
