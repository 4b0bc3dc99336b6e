"""``make bench-kb``: knowledge-base build/load/search budgets and a linking benchmark.

Linking benchmark: 20 % of ICD-10-CM inclusion terms (a fixed, seeded split) are removed from a
separately built ICD-10-CM index and used as queries, with the code they belong to as gold.
Reported: recall@1/5/20 and the median per-query latency.

Budgets (measured on the real knowledge base): full build time, load time (open the database and
all four indexes, in a fresh process, median of 3; the one-off import of scispaCy/spaCy/torch is
reported apart), median search latency, resident memory with everything loaded.
Results go to stdout and ``eval/reports/bench_kb.json``.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import track

from cac.codesets import icd10cm
from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.codesets.registry import CodeSetSource
from cac.config import Settings, get_settings
from cac.kb.build import NOT_INDEXED_KINDS, build
from cac.kb.store import KnowledgeBase
from cac.linking.search import CodeSearcher

HELD_OUT = 0.20
SEED = 13
KS = (1, 5, 20)
REPORT = Path(__file__).parent / "reports" / "bench_kb.json"
console = Console()

_LOAD_PROBE = """
import json, sys, time
t = time.perf_counter()
from cac.kb.store import KnowledgeBase
imported = time.perf_counter()
kb = KnowledgeBase.open(__import__("pathlib").Path(sys.argv[1]))
kb.load_indexes()
loaded = time.perf_counter()
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(json.dumps({"imports": imported - t, "seconds": loaded - imported, "rss_mb": rss / 1024}))
"""


def split_inclusion_terms(
    records: list[CodeRecord],
) -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
    """All (inclusion term, code) pairs of indexed codes, and the held-out 20 %."""
    pairs = sorted(
        {
            (term, r.code)
            for r in records
            if r.active and r.kind not in NOT_INDEXED_KINDS
            for term in r.synonyms
        }
    )
    rng = random.Random(SEED)
    held = set(rng.sample(pairs, round(len(pairs) * HELD_OUT)))
    return pairs, held


def _without(records: list[CodeRecord], held: set[tuple[str, str]]) -> Iterator[CodeRecord]:
    for r in records:
        kept = tuple(t for t in r.synonyms if (t, r.code) not in held)
        yield dataclasses.replace(r, synonyms=kept) if kept != r.synonyms else r


def linking_benchmark(home: Path) -> dict[str, object]:
    records = list(icd10cm.load())
    pairs, held = split_inclusion_terms(records)
    source = CodeSetSource(
        System.ICD10CM,
        lambda: _without(records, held),
        lambda: SourceInfo(System.ICD10CM, "ICD-10-CM minus held-out inclusion terms", "bench"),
    )
    console.print(f"building an ICD-10-CM index without {len(held):,} held-out inclusion terms")
    build(Settings(home=home), code_sets=[source], force=True)
    kb = KnowledgeBase.open(Settings(home=home).kb_dir)
    searcher = CodeSearcher(kb)
    searcher.search("warm up", System.ICD10CM)
    hits = dict.fromkeys(KS, 0)
    latencies = []
    for term, gold in track(sorted(held), description="held-out queries", console=console):
        start = time.perf_counter()
        ranked = [c.code for c in searcher.search(term, System.ICD10CM, max(KS))]
        latencies.append(time.perf_counter() - start)
        for k in KS:
            hits[k] += gold in ranked[:k]
    kb.close()
    return {
        "inclusion_terms": len(pairs),
        "queries": len(held),
        **{f"recall@{k}": round(hits[k] / len(held), 4) for k in KS},
        "median_query_ms": round(statistics.median(latencies) * 1000, 2),
    }


def budgets(settings: Settings, home: Path) -> dict[str, object]:
    console.print("full build of all four systems into a scratch CAC_HOME")
    start = time.perf_counter()
    build(Settings(home=home, hcpcs_file=settings.hcpcs_file, cpt_file=settings.cpt_file))
    build_seconds = time.perf_counter() - start
    kb_dir = Settings(home=home).kb_dir
    probes = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _LOAD_PROBE, str(kb_dir)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        for _ in range(3)
    ]
    kb = KnowledgeBase.open(kb_dir)
    kb.load_indexes()
    searcher = CodeSearcher(kb)
    records = [r for r in icd10cm.load() if r.synonyms]
    queries = [t for r in random.Random(SEED).sample(records, 300) for t in r.synonyms[:1]]
    one, every = [], []
    for q in queries:
        start = time.perf_counter()
        searcher.search(q, System.ICD10CM)
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        searcher.search(q)
        every.append(time.perf_counter() - start)
    kb.close()
    return {
        "full_build_seconds": round(build_seconds, 1),
        "load_seconds_median": round(statistics.median(p["seconds"] for p in probes), 2),
        "import_seconds_median": round(statistics.median(p["imports"] for p in probes), 2),
        "resident_mb_all_loaded": round(statistics.median(p["rss_mb"] for p in probes), 1),
        "median_search_ms_one_system": round(statistics.median(one) * 1000, 2),
        "median_search_ms_all_systems": round(statistics.median(every) * 1000, 2),
        "search_queries": len(queries),
    }


def main() -> None:
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="cac-bench-") as scratch:
        linking = linking_benchmark(Path(scratch) / "linking")
        budget = budgets(settings, Path(scratch) / "full")
    result = {"linking": linking, "budgets": budget}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print_json(json.dumps(result))
    console.print(f"written to {REPORT}")


if __name__ == "__main__":
    main()
