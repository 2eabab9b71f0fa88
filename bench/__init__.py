"""charlm's benchmark suite: ``python -m bench.run [--quick]`` (``make bench`` / ``make bench-quick``).

Every measurement runs in its own subprocess (so each has its own peak RSS) and every speed is
reported next to a plain-PyTorch reference timed in the same process, so machine noise cancels in
the ratios. Results: one JSON per run in ``bench/results/`` plus ``bench/results/latest.md``.
"""
