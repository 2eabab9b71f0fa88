"""Past one machine: two torchrun ranks (gloo, CPU) train over a token cache larger than either one's memory limit.

Why RLIMIT_DATA, not RLIMIT_AS: the design *maps* the cache, and a mapping counts toward the address
space (``RLIMIT_AS``) whether or not it is read, so an address-space limit below the cache's size
would refuse even the right design. ``RLIMIT_DATA`` (Linux >= 4.7) counts the private writable
memory a process can fill (heap, anonymous maps: every NumPy or torch copy), not a read-only shared
file mapping. A rank that copied the corpus, or converted it to int64 for a count, would need the
cache's size (1 GiB here) or 4x it, over the 512 MiB limit, and would die with a MemoryError; a rank
that reads its own rows from the memmap (what ``charlm train`` does) stays well under it.

The cache is a sparse file (no disk used): the run starts on a small corpus, then its
``corpus.ids`` is swapped for 512M zero tokens and the run is resumed, which reuses the cache as it
finds it (a resumed run trains on its cached tokens, not on the text). Hermetic: 127.0.0.1, a free
port, files under tmp_path.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from charlm import checkpoint as ckpt
from tests.conftest import TINY_TEXT

LIMIT = 512 << 20  # bytes of private writable memory per process (torch and a tiny run need ~300 MiB)
TOKENS = 512 << 20  # uint16 ids: a 1 GiB cache, twice the limit
TINY = ["--hidden", "16", "--embed", "8", "--layers", "1", "--seq-len", "16", "--batch-size", "2", "--threads", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(args: list[str], cwd: Path, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node 2 -m charlm ARGS`` on 127.0.0.1; ``limit``: RLIMIT_DATA of the launcher and its ranks."""

    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1"]
    command += ["--master_port", str(_free_port()), "-m", "charlm", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}  # fewer malloc arenas: less reserved
    return subprocess.run(
        command, cwd=cwd, env=env, preexec_fn=limited, capture_output=True, text=True, timeout=300, check=False
    )


def _swap_in_a_sparse_cache(run: Path, tokens: int) -> None:
    """``run/corpus.ids`` becomes ``tokens`` zero ids (a sparse file) and its metadata says so."""
    meta_path = run / "corpus.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with open(run / "corpus.ids", "wb") as fh:
        fh.truncate(tokens * 2)  # uint16
    meta.update(tokens=tokens, chars=tokens, unk=0)  # id 0 is <unk>; the rate check reads the metadata
    meta_path.write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.slow
@pytest.mark.trains(subprocess=True)
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA counts anonymous maps on Linux >= 4.7")
def test_two_ranks_train_over_a_cache_larger_than_each_ranks_memory_limit(tmp_path: Path) -> None:
    (tmp_path / "corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    started = _torchrun(["train", "corpus.txt", "--out", "run", "--steps", "1", "--save-every", "1", *TINY,
                         "--device", "cpu", "--ngram-order", "0", "--val-tokens", "64"], tmp_path)  # fmt: skip
    assert started.returncode == 0, started.stderr[-3000:]
    run = tmp_path / "run"
    _swap_in_a_sparse_cache(run, TOKENS)
    assert (run / "corpus.ids").stat().st_size > LIMIT
    resumed = _torchrun(["train", "--resume", "--out", "run", "--steps", "3", "--device", "cpu"], tmp_path, LIMIT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    saved = ckpt.read_config(run)
    assert saved["summary"]["step"] == 3
    assert saved["data"]["train_tokens"] == TOKENS - 64 and saved["data"]["val_tokens"] == 64
