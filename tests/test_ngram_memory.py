"""The n-gram counted past memory (charlm.ngram.counting, charlm.ngram.spill): spilled-and-merged counts
equal the in-memory ones array for array, pruning keeps a proper distribution and is recorded, the
budget's bad values get one verdict everywhere, and the spill directory never outlives the build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from charlm.cli.app import app
from charlm.errors import BadOption, CharlmError
from charlm.ngram.counting import Budget, count_stream
from charlm.ngram.counts import Counts, count_ngrams
from charlm.ngram.kneser_ney import estimate
from charlm.ngram.store import SPILL_PREFIX, Plan, build
from charlm.sizes import MemorySize, Prune, size_text
from tests.conftest import TINY_TEXT

EOS = 1
TINY_BUDGET = 16_000  # bytes: chunks of 1,024 positions, runs of 256 types, so every order >= 2 spills
runner = CliRunner()


def _ids(level: str) -> tuple[np.ndarray, int]:
    """(ids, vocabulary size) of a few thousand tokens (0 <unk>, 1 <eos>): the characters of a text, or
    words drawn (seeded) from a Zipf-like law over 300 words, a line end every 10 or so."""
    if level == "char":
        chars = {c: i + 2 for i, c in enumerate(sorted(set(TINY_TEXT)))}
        return np.array([chars[c] for c in TINY_TEXT * 3], dtype=np.uint16), len(chars) + 2
    rng = np.random.default_rng(0)
    weights = 1 / np.arange(1, 301)
    ids = rng.choice(np.arange(2, 302), size=6000, p=weights / weights.sum())
    ids[rng.random(ids.size) < 0.1] = EOS
    return ids.astype(np.uint16), 302


def _same(a: Counts, b: Counts) -> None:
    for name in ("keys", "counts", "suffix"):
        x, y = getattr(a, name), getattr(b, name)
        assert len(x) == len(y)
        for k, (u, v) in enumerate(zip(x, y, strict=True), 1):
            assert u.dtype == v.dtype and np.array_equal(u, v), f"{name} of order {k} differ"


def _stages(ids: np.ndarray, order: int, vocab: int, workdir: Path, **given: Any) -> tuple[Counts, list]:
    seen: list[tuple[str, int, int, str]] = []
    counts = count_stream(ids, order, vocab, EOS, workdir, progress=lambda *a: seen.append(a), **given)
    return counts, seen


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_spilled_and_merged_counts_equal_the_in_memory_counts(level: str, order: int, tmp_path: Path) -> None:
    ids, vocab = _ids(level)
    reference = count_ngrams(ids, order, vocab, EOS)
    spilled, stages = _stages(ids, order, vocab, tmp_path, memory=TINY_BUDGET, prune=(0,))
    _same(reference, spilled)
    merged = {s for s, *_ in stages if s.startswith("merging")}
    assert merged == {f"merging {k}-grams" for k in range(2, order + 1)}  # every order spilled and merged
    assert not list(tmp_path.iterdir())  # runs and id files removed as soon as they are read
    roomy, stages = _stages(ids, order, vocab, tmp_path, memory=2**30, prune="auto")
    _same(reference, roomy)
    assert not any(s.startswith("merging") for s, *_ in stages) and roomy.pruned == (0,) * order


def test_progress_counts_every_pass_to_its_end(tmp_path: Path) -> None:
    ids, vocab = _ids("char")
    _, stages = _stages(ids, 3, vocab, tmp_path, memory=TINY_BUDGET)
    last: dict[str, tuple[int, int, str]] = {s: (d, t, u) for s, d, t, u in stages}
    assert last["counting 1-grams"] == (ids.size + 1, ids.size + 1, "tokens")
    assert last["counting 3-grams"][:2] == (ids.size - 1, ids.size - 1)
    done, total, unit = last["merging 3-grams"]
    assert done == total > 0 and unit == "n-grams"


def _grams(counts: Counts, k: int) -> dict[tuple[int, ...], int]:
    """The k-grams of a table as token tuples (ids differ once a lower order is pruned), with their counts."""
    v, grams = counts.vocab_size, [(int(w),) for w in counts.keys[0]]
    for j in range(2, k + 1):
        grams = [(*grams[int(key) // v], int(key) % v) for key in counts.keys[j - 1]]
    return dict(zip(grams, (int(c) for c in counts.counts[k - 1]), strict=True))


def _sums_to_one(counts: Counts, contexts: np.ndarray) -> None:
    model = estimate(counts)
    for end in range(0, contexts.size, max(1, contexts.size // 40)):
        p, _ = model.distribution(contexts[max(0, end - 6) : end])
        assert abs(p.sum() - 1) < 1e-6


@pytest.mark.parametrize("level", ["char", "word"])
def test_pruning_drops_rare_ngrams_and_keeps_a_distribution(level: str, tmp_path: Path) -> None:
    ids, vocab = _ids(level)
    full = count_ngrams(ids, 4, vocab, EOS)
    pruned = count_stream(ids, 4, vocab, EOS, tmp_path, memory=TINY_BUDGET, prune=(0, 0, 1))
    assert pruned.pruned == (0, 0, 1, 1)
    for k in (1, 2):  # orders below the threshold: untouched
        assert np.array_equal(full.keys[k - 1], pruned.keys[k - 1])
    assert 0 < pruned.keys[2].size < full.keys[2].size and pruned.keys[3].size < full.keys[3].size
    before, after = _grams(full, 4), _grams(pruned, 4)  # the top order keeps raw counts
    assert after == {g: c for g, c in before.items() if c > 1}
    _sums_to_one(pruned, ids.astype(np.int64))


def test_auto_pruning_fits_the_budget_and_says_where(tmp_path: Path) -> None:
    ids, vocab = _ids("word")
    budget = 300_000  # room for 2,343 types of about 17,000
    counts = count_stream(ids, 6, vocab, EOS, tmp_path, memory=budget, prune="auto")
    assert any(counts.pruned) and list(counts.pruned) == sorted(counts.pruned)
    assert sum(k.size for k in counts.keys) <= Budget(budget).types
    _sums_to_one(counts, ids.astype(np.int64))
    again = count_stream(ids, 6, vocab, EOS, tmp_path, memory=budget, prune=counts.pruned)
    _same(counts, again)  # auto's thresholds, given back, give the same table


def test_build_records_the_budget_and_pruning_and_leaves_no_spill(tmp_path: Path) -> None:
    ids, vocab = _ids("word")
    meta = build(tmp_path, None, "fp", vocab, ids, ids[:0], 3, EOS, Plan(2**20, (0, 1)))
    assert meta["memory"] == "1M" and meta["prune"] == [0, 1] and meta["pruned"] == [0, 1, 1]
    assert json.loads((tmp_path / "ngram.json").read_text())["pruned"] == [0, 1, 1]
    assert not list(tmp_path.glob(SPILL_PREFIX + "*"))


def test_spill_directory_is_removed_after_an_error_and_an_interrupt(tmp_path: Path) -> None:
    ids, vocab = _ids("char")
    with pytest.raises(CharlmError, match="token ids must lie"):
        build(tmp_path, None, "fp", 5, ids, ids[:0], 3, EOS, Plan(2**20))
    assert not list(tmp_path.iterdir())

    def interrupt(stage: str, done: int, total: int, unit: str = "bytes") -> None:
        if stage == "merging 3-grams":  # runs on disk, the merge half-written
            assert list(tmp_path.glob(SPILL_PREFIX + "*/run*"))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(tmp_path, None, "fp", vocab, ids, ids[:0], 3, EOS, Plan(TINY_BUDGET, "auto", interrupt))
    assert not list(tmp_path.iterdir())  # no spill, and no half-written ngram.json or ngram.npz
    (tmp_path / (SPILL_PREFIX + "killed")).mkdir()  # what a SIGKILL leaves: the next build removes it
    build(tmp_path, None, "fp", vocab, ids, ids[:0], 2, EOS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ngram.json", "ngram.npz"]


@pytest.mark.parametrize(
    ("text", "size"),
    [("512M", 512 * 2**20), ("4G", 4 * 2**30), ("1.5g", 3 * 2**29), ("2GiB", 2**31), ("1048576", 2**20)],
)
def test_memory_sizes_read(text: str, size: int) -> None:
    assert MemorySize().parse(text) == size and MemorySize().check(size) == size
    assert MemorySize().parse(size_text(size)) == size


@pytest.mark.parametrize(
    ("text", "counts"),
    [("auto", "auto"), ("0", (0,)), ("2", (0, 0, 2)), ("0 0 1 1", (0, 0, 1, 1)), ("0,1,2", (0, 1, 2))],
)
def test_prune_values_read(text: str, counts: Any) -> None:
    assert Prune().parse(text) == counts
    if counts != "auto":
        assert Prune().check(list(counts)) == counts


BAD = [("memory", bad) for bad in MemorySize.bad] + [("ngram_prune", bad) for bad in Prune.bad]


@pytest.mark.parametrize(("key", "bad"), BAD)
def test_bad_budget_and_pruning_get_one_line_everywhere(key: str, bad: str, tiny_model: Path, tmp_path: Path) -> None:
    import charlm
    from charlm.training.config import TrainConfig

    flag = "--" + key.replace("_", "-")
    result = runner.invoke(app, ["ngram", "build", "--model", str(tiny_model), flag, bad])
    lines = [line for line in result.stderr.splitlines() if line.startswith("charlm: error:")]
    assert result.exit_code == 2 and len(lines) == 1 and flag in lines[0], result.output
    with pytest.raises(BadOption) as library:
        charlm.load(tiny_model, device="cpu").build_ngram(**{key: bad})
    with pytest.raises(BadOption) as config:
        TrainConfig(corpus="corpus.txt", **{key: bad})
    assert str(library.value) == str(config.value) and str(library.value).startswith(flag)
    assert str(library.value).split(": ")[-1] in lines[0] or str(library.value)[len(flag) + 1 :] in lines[0]


def test_cli_build_with_a_small_budget_reports_it(tiny_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    result = runner.invoke(app, ["ngram", "build", "--model", str(model), "--memory", "1M", "--ngram-prune", "1"])
    assert result.exit_code == 0, result.output
    assert "memory 1M, pruned at 0 0 1 1 1 1" in result.stdout
    meta = json.loads((model / "ngram.json").read_text())
    assert meta["prune"] == [0, 0, 1] and meta["memory"] == "1M"
    assert not list(model.glob(SPILL_PREFIX + "*"))


@pytest.mark.trains
def test_training_counts_its_ngram_within_its_budget_and_pruning(corpus: Path, tmp_path: Path) -> None:
    from charlm.training.loop import train
    from tests.conftest import tiny_config

    run = train(tiny_config(corpus, tmp_path, steps=2, memory="1M", ngram_prune=[0, 0, 1])).run_dir
    meta = json.loads((run / "ngram.json").read_text())
    assert meta["memory"] == "1M" and meta["prune"] == [0, 0, 1] and meta["pruned"] == [0, 0, 1, 1, 1, 1]
    assert json.loads((run / "config.json").read_text())["train"]["memory"] == 2**20
    assert not list(run.glob(SPILL_PREFIX + "*"))


PEAK = """
import sys
from pathlib import Path
import numpy as np
from charlm.ngram.counting import count_stream

def kb(field):  # this process's own figures (ru_maxrss would carry the parent's peak across fork + exec)
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1]) * 1024

ids = np.memmap(sys.argv[1], dtype=np.uint16, mode="r")
before = kb("VmRSS")
counts = count_stream(ids, 4, 64, 1, Path(sys.argv[2]), memory=int(sys.argv[3]))
print(kb("VmHWM") - before, sum(k.size for k in counts.keys))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_counting_holds_its_budget_not_the_stream(tmp_path: Path) -> None:
    """20M tokens (160 MB as int64, which one sort per order would hold several times) in a 32 MB budget."""
    import subprocess
    import sys

    block = np.random.default_rng(0).integers(2, 64, size=5000, dtype=np.uint16)
    np.tile(block, 4000).tofile(tmp_path / "corpus.ids")  # (20M,): few types, a long stream
    (tmp_path / "spill").mkdir()
    budget = 32 * 2**20
    args = [sys.executable, "-c", PEAK, str(tmp_path / "corpus.ids"), str(tmp_path / "spill"), str(budget)]
    grown, types = (int(x) for x in subprocess.run(args, capture_output=True, text=True, check=True).stdout.split())
    assert types < 30_000 and grown < budget, f"peak grew by {grown:,} bytes"
