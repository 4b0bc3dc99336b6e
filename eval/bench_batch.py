"""``make bench-batch``: notes/s of ``cac batch`` on CodiEsp dev, local engine and Spark local[2].

Writes the dev notes (or the first ``--limit``) as a folder of ``.txt`` files, then codes them
three times into fresh outputs: the local engine with 1 and with 2 worker processes, and the Spark
engine on ``local[2]`` (in chunks of 25 notes, one Spark job each). For each run it reports the
end-to-end time (worker start and model load included), the steady rate (first coded note to
last), the peak resident memory of every worker process, and the machine's load average (other
work on the machine slows every figure). It then compares the three outputs file for file.
Results: ``eval/reports/bench_batch.json``. A benchmark, not a test: nothing asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from cac.batch.runner import BatchProgress, BatchSummary, run_batch
from eval.codiesp import DEFAULT_DIR, load_texts

REPORT = Path(__file__).parent / "reports" / "bench_batch.json"
SPARK_CHUNK = 25


class _Clock:
    """Times of the first and last coded note, from the progress callback."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.first_count = 0
        self.count = 0

    def __call__(self, progress: BatchProgress) -> None:
        if progress.coded and progress.coded != self.count:
            now = time.perf_counter()
            if self.first is None:
                self.first, self.first_count = now, progress.coded
            self.last, self.count = now, progress.coded

    @property
    def steady_rate(self) -> float:
        if self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return (self.count - self.first_count) / (self.last - self.first)


def _descendants_peak_mb(root: int, needle: str) -> list[float]:
    """Peak RSS (VmHWM, MB) of the descendants of ``root`` whose command line has ``needle``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    peaks = []
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, root):
            ancestor = parents.get(ancestor)
        if ancestor != root:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if needle in cmdline:
            hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
            kib = int(hwm.split()[1])
            peaks.append(round(kib / 1024, 1))
    return sorted(peaks, reverse=True)


def _by_note(path: Path) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in pq.read_table(path).to_pylist():
        rows.setdefault(row["note_id"], []).append(row)
    return rows


def _result(name: str, summary: BatchSummary, clock: _Clock, peaks: list[float],
            load: tuple[float, float]) -> dict[str, Any]:  # fmt: skip
    return {
        "run": name,
        "notes": summary.coded,
        "failed": summary.failed,
        "seconds_end_to_end": round(summary.seconds, 1),
        "notes_per_s_end_to_end": round(summary.coded / summary.seconds, 3),
        "notes_per_s_steady": round(clock.steady_rate, 3),
        "worker_peak_rss_mb": peaks,
        "load_average_1min_before_after": [round(x, 2) for x in load],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N dev notes.")
    parser.add_argument("--skip-spark", action="store_true", help="Local engine only.")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    console = Console()
    texts = load_texts(DEFAULT_DIR, "dev")
    names = sorted(texts)[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="cac-bench-batch-"))
    results: list[dict[str, Any]] = []
    try:
        notes = work / "notes"
        notes.mkdir()
        for name in names:
            (notes / f"{name}.txt").write_text(texts[name], encoding="utf-8")
        outputs: dict[str, Path] = {}
        for workers in (1, 2):
            name = f"local, {workers} worker{'s' if workers > 1 else ''}"
            console.print(f"[bold]{name}[/bold]: {len(names)} notes")
            clock, before = _Clock(), os.getloadavg()[0]
            outputs[name] = work / f"local{workers}.parquet"
            summary = run_batch(notes, outputs[name], workers=workers, on_progress=clock)
            peaks = sorted((round(v, 1) for v in summary.worker_peak_rss_mb.values()), reverse=True)
            results.append(_result(name, summary, clock, peaks, (before, os.getloadavg()[0])))
        if not args.skip_spark:
            from cac.batch.spark import local_session

            name = "spark local[2]"
            console.print(f"[bold]{name}[/bold]: {len(names)} notes")
            before, started = os.getloadavg()[0], time.perf_counter()
            session = local_session("local[2]")
            startup = time.perf_counter() - started
            clock = _Clock()
            outputs[name] = work / "spark.parquet"
            try:
                # Small chunks, so results arrive often enough to time a steady rate.
                summary = run_batch(notes, outputs[name], engine="spark", spark=session,
                                    chunk_notes=SPARK_CHUNK, on_progress=clock)  # fmt: skip
                peaks = _descendants_peak_mb(os.getpid(), "pyspark.daemon")
            finally:
                session.stop()
            result = _result(name, summary, clock, peaks, (before, os.getloadavg()[0]))
            result["spark_session_start_seconds"] = round(startup, 1)
            result["chunk_notes"] = SPARK_CHUNK
            results.append(result)
        reference = outputs["local, 1 worker"].read_bytes()
        identical = {name: path.read_bytes() == reference for name, path in outputs.items()}
        baseline = _by_note(outputs["local, 1 worker"])
        for result, path in zip(results, outputs.values(), strict=True):
            notes_rows = _by_note(path)
            result["notes_differing_from_local_1_worker"] = sum(
                notes_rows.get(n) != rows for n, rows in baseline.items()
            )
            result["model_versions"] = sorted(
                set(pq.read_table(path)["model"].drop_null().to_pylist())
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    one, two = results[0]["notes_per_s_steady"], results[1]["notes_per_s_steady"]
    report = {
        "docs": len(names),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "runs": results,
        "speedup_2_workers_over_1_steady": round(two / one, 2) if one else None,
        "outputs_identical_to_local_1_worker": identical,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = Table(title=f"cac batch on {len(names)} CodiEsp dev notes")
    for column in ("run", "end-to-end s", "notes/s (e2e)", "notes/s (steady)",
                   "peak RSS per worker (MB)", "load avg", "same output"):  # fmt: skip
        table.add_column(column)
    for r in results:
        table.add_row(
            r["run"],
            str(r["seconds_end_to_end"]),
            str(r["notes_per_s_end_to_end"]),
            str(r["notes_per_s_steady"]),
            ", ".join(str(p) for p in r["worker_peak_rss_mb"]),
            " -> ".join(str(x) for x in r["load_average_1min_before_after"]),
            str(identical[r["run"]]),
        )
    console.print(table)
    console.print(f"2 workers / 1 worker (steady): {report['speedup_2_workers_over_1_steady']}")


if __name__ == "__main__":
    main()
