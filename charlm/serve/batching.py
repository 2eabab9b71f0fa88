"""Micro-batching for ``POST /score``: concurrent requests gathered into one padded batch.

::

    request A (3 sentences) --+                         +--> A's 3 scores, ranked among A's sentences
    request B (1 sentence)  --+--> queue --> one batch --+--> B's score
    request C (5 sentences) --+   (wait up to batch_wait_ms, at most max_batch sentences)

The first request to arrive opens a batch; the batcher then waits up to ``batch_wait_ms`` for more,
closing early once ``max_batch`` sentences are in. A request larger than ``max_batch`` is scored on
its own (in batches of ``max_batch``). The batch runs in one worker thread (the event loop keeps
accepting requests meanwhile); each request then gets its own sentences back, ranked among
themselves only, so a result equals scoring that request alone: every sentence is scored from a
fresh state and padding only follows a sentence, never precedes it (floating-point sums of a
different batch shape may differ in the last bits).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from charlm.api import SentenceScore, rank
from charlm.options import ScoringOptions


@dataclass
class _Job:
    texts: list[str]
    per_token: bool
    normalize: str
    options: ScoringOptions
    done: asyncio.Future[list[SentenceScore]] = field(repr=False)


class MicroBatcher:
    """Gathers ``score`` calls into batches of at most ``max_batch`` sentences; one thread runs them."""

    def __init__(self, model: Any, max_batch: int = 64, wait_ms: float = 5.0) -> None:
        self.model, self.max_batch, self.wait = model, max_batch, wait_ms / 1000.0
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        # OpenMP's thread count is per OS thread: carry the process's setting (--threads) into the worker.
        threads = torch.get_num_threads()
        self.executor = ThreadPoolExecutor(1, "charlm-score", initializer=torch.set_num_threads, initargs=(threads,))
        self.task: asyncio.Task[None] | None = None
        self.batches = 0  # batches run (for /info and the tests)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.executor.shutdown(wait=True)

    async def score(
        self, texts: list[str], normalize: str = "total", per_token: bool = False, options: ScoringOptions | None = None
    ) -> list[SentenceScore]:
        """Scores of ``texts`` in input order, ranked among themselves, as :meth:`charlm.api.Model.score` gives
        with the same ``options`` (jobs with other options go in other batches)."""
        job = _Job(texts, per_token, normalize, options or ScoringOptions(), asyncio.get_running_loop().create_future())
        await self.queue.put(job)
        return await job.done

    async def _gather(self) -> list[_Job]:
        jobs = [await self.queue.get()]
        size = len(jobs[0].texts)
        deadline = time.monotonic() + self.wait
        while size < self.max_batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                job = await asyncio.wait_for(self.queue.get(), left)
            except asyncio.TimeoutError:
                break
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            for batch in _split(jobs, self.max_batch):
                try:
                    results = await loop.run_in_executor(self.executor, self._score, batch)
                except Exception as exc:  # handed to each waiting request; the batcher keeps running
                    for job in batch:
                        if not job.done.done():
                            job.done.set_exception(exc)
                    continue
                for job, scores in zip(batch, results, strict=True):
                    if not job.done.done():  # the client may have gone away
                        job.done.set_result(scores)

    def _score(self, jobs: list[_Job]) -> list[list[SentenceScore]]:
        """One padded batch for all ``jobs`` (thread); each job's scores ranked on their own."""
        texts = [t for job in jobs for t in job.texts]
        per_token = any(job.per_token for job in jobs)
        options = replace(jobs[0].options, batch_size=self.max_batch)  # one batch has one set of options
        scores = self.model.score(texts, per_token=per_token, options=options)
        self.batches += 1
        out, start = [], 0
        for job in jobs:
            mine = scores[start : start + len(job.texts)]
            start += len(job.texts)
            if per_token and not job.per_token:
                mine = [replace(s, per_token=None) for s in mine]
            out.append(rank(mine, job.normalize))
        return out


def _split(jobs: list[_Job], max_batch: int) -> list[list[_Job]]:
    """Consecutive groups of whole jobs with the same options, of at most ``max_batch`` sentences (a bigger job goes alone)."""
    groups: list[list[_Job]] = [[]]
    size = 0
    for job in jobs:
        if groups[-1] and (size + len(job.texts) > max_batch or job.options != groups[-1][0].options):
            groups.append([])
            size = 0
        groups[-1].append(job)
        size += len(job.texts)
    return groups
