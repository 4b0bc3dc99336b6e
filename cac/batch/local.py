"""The local engine: worker processes (``spawn``), each loading its coder once."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from multiprocessing import get_context
from typing import Any

from cac.batch.coder import CoderSpec, cached_coder
from cac.batch.records import NoteRow
from cac.batch.rows import code_note
from cac.errors import CacError
from cac.impact import shared_engine

Outcome = tuple[NoteRow, list[dict[str, Any]]]
# A worker's answer to one task: its pid, its peak resident memory (KiB), a record list per note.
_Answer = tuple[int, int, list[list[dict[str, Any]]]]
# One note sent to a worker: id, text, setting, age, sex.
_Payload = tuple[str, str, str, object, object]


def _start_worker(spec: CoderSpec, threads: int) -> None:
    """Pool initializer: share the cores among workers, then load the coder once.

    PyTorch (and OpenMP/MKL) size their thread pools to every core of the machine when first
    imported; N workers doing so would run N x cores threads on the cores. Spark sets
    OMP_NUM_THREADS for its Python workers in the same way. The impact engine (grouper and HCC
    tables) is loaded once here too.
    """
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))
    # A failure is raised again, with its message, by the first task.
    with contextlib.suppress(Exception):
        cached_coder(spec)
        shared_engine()


def _code_task(spec: CoderSpec, notes: list[_Payload]) -> _Answer:
    coder, engine = cached_coder(spec), shared_engine()
    records = [
        code_note(coder, note_id, text, setting, age, sex, engine=engine)
        for note_id, text, setting, age, sex in notes
    ]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return os.getpid(), peak, records


class LocalEngine:
    """Codes notes with ``workers`` processes; results come back in completion order.

    Attributes:
        peak_rss_kib: Peak resident memory of each worker process seen, by pid.
    """

    def __init__(self, spec: CoderSpec, workers: int, notes_per_task: int = 2) -> None:
        self.spec = spec
        self.workers = max(1, workers)
        self.notes_per_task = notes_per_task
        self.max_pending = self.workers * 4
        self.peak_rss_kib: dict[int, int] = {}

    def code(self, notes: Iterator[NoteRow]) -> Generator[Outcome, None, None]:
        """Code ``notes`` (read lazily, a few tasks ahead of the workers)."""
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.spec, max(1, (os.cpu_count() or 1) // self.workers)),
        )
        pending: dict[Future[_Answer], list[NoteRow]] = {}
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < self.max_pending:
                    task = list(islice(notes, self.notes_per_task))
                    if not task:
                        exhausted = True
                        break
                    payload = [(n.id, n.text, n.setting, n.age, n.sex) for n in task]
                    pending[pool.submit(_code_task, self.spec, payload)] = task
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = pending.pop(future)
                    try:
                        pid, peak, records = future.result()
                    except BrokenProcessPool:
                        raise CacError(
                            "a worker process died (out of memory?); the notes written so far "
                            "are kept: rerun the same command to resume, with fewer --workers"
                        ) from None
                    self.peak_rss_kib[pid] = max(peak, self.peak_rss_kib.get(pid, 0))
                    yield from zip(task, records, strict=True)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
