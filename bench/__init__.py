"""charlm's benchmark suite: ``python -m bench.run [--quick]`` (``make bench`` / ``make bench-quick``).

Every measurement runs in its own subprocess (so each has its own peak RSS) and every speed is
reported next to a plain-PyTorch reference timed in the same process, so machine noise cancels in
the ratios. Results: one JSON per run in ``bench/results/`` plus ``bench/results/latest.md``.
"""

import os
from pathlib import Path

# The data the benchmarks read: ../shared/data beside the checkout (or beside a directory above it,
# as from a git worktree), or where CHARLM_SHARED_DATA says (as for the tests). Never a machine's path.
DATA = Path(
    os.environ.get("CHARLM_SHARED_DATA")
    or next(
        (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()),
        Path(__file__).resolve().parents[1].parent / "shared" / "data",
    )
)
SHARED = DATA.parent  # also holds seeds/ (bench.chinese)
SHAKESPEARE = DATA / "tinyshakespeare" / "input.txt"
