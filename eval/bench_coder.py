"""``make bench``: seconds per CodiEsp dev document for ``Coder.code`` (loaded once), peak RSS."""

from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track

from cac.pipeline import Coder
from eval.codiesp import DEFAULT_DIR, load_texts

REPORT = Path(__file__).parent / "reports" / "bench_coder.json"


def main() -> None:
    console = Console()
    start = time.perf_counter()
    coder = Coder.load()
    load_seconds = time.perf_counter() - start
    texts = load_texts(DEFAULT_DIR, "dev")
    coder.code("warm up note with pneumonia.")
    timings = []
    for text in track(list(texts.values()), "coding dev", console=console):
        start = time.perf_counter()
        coder.code(text)
        timings.append(time.perf_counter() - start)
    result = {
        "docs": len(timings),
        "load_seconds": round(load_seconds, 2),
        "median_seconds_per_doc": round(statistics.median(timings), 4),
        "p95_seconds_per_doc": round(sorted(timings)[int(0.95 * len(timings))], 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print_json(json.dumps(result))


if __name__ == "__main__":
    main()
