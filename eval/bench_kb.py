"""``make bench-kb``: knowledge-base build/load/search budgets and a linking benchmark.

Linking benchmark: 20 % of ICD-10-CM inclusion terms (a fixed, seeded split) are removed from a
separately built ICD-10-CM index and used as queries, with the code they belong to as gold.
Reported: recall@1/5/20 and the median per-query latency, for TF-IDF search, for dense retrieval
with the bi-encoder (``models/biencoder``; its index over the same names, the held-out terms
absent too) and for the two merged (``cac.linking.fusion``). The merge is chosen on a tuning slice
of 500 *training* inclusion terms (``tuning_terms``; the bi-encoder never trained on them either),
searched in a third index without them, never on the held-out terms. Dense figures use one thread.

Budgets (measured on the real knowledge base): full build time, load time (open the database and
all four indexes, in a fresh process, median of 3; the one-off import of scispaCy/spaCy/torch is
reported apart), median search latency, resident memory with everything loaded; and the dense
index of the real knowledge base (rows, size, build figures from its manifest, latency of a batch
of 20 mentions).
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

import torch
from rich.console import Console
from rich.progress import track
from threadpoolctl import threadpool_limits

from cac.codesets import icd10cm
from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.codesets.registry import CodeSetSource
from cac.config import Settings, get_settings
from cac.kb.build import NOT_INDEXED_KINDS, build
from cac.kb.store import KnowledgeBase
from cac.linking.dense import (
    DenseManifest,
    DensePaths,
    DenseRetriever,
    build_system,
    stored_vectors,
)
from cac.linking.fusion import Fusion
from cac.linking.search import CodeSearcher
from cac.nlp.compact import COMPACT_NAME

HELD_OUT = 0.20
SEED = 13
# Training inclusion terms kept out of the bi-encoder's training (training/biencoder.py) and out of
# the tuning index here, to choose how TF-IDF and dense candidates are merged.
TUNING_TERMS = 500
KS = (1, 5, 20)
POOL = 50  # candidates per retriever before merging
BATCHES = 30  # batches of 20 mentions timed for dense latency
MODEL_DIR = Path(__file__).parent.parent / "models" / "biencoder"
FUSIONS = [Fusion("rrf", k) for k in (5.0, 20.0, 60.0)] + [
    Fusion("weighted", w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
]
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


def tuning_terms(pairs: list[tuple[str, str]], held: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """A fixed slice of the non-held-out (inclusion term, code) pairs, for choosing the merge."""
    rest = [p for p in pairs if p not in held]
    return set(random.Random(SEED + 1).sample(rest, TUNING_TERMS))


def _without(records: list[CodeRecord], held: set[tuple[str, str]]) -> Iterator[CodeRecord]:
    for r in records:
        kept = tuple(t for t in r.synonyms if (t, r.code) not in held)
        yield dataclasses.replace(r, synonyms=kept) if kept != r.synonyms else r


def _minus(records: list[CodeRecord], removed: set[tuple[str, str]], name: str) -> CodeSetSource:
    return CodeSetSource(
        System.ICD10CM,
        lambda: _without(records, removed),
        lambda: SourceInfo(System.ICD10CM, name, "bench"),
    )


def _recall(ranked: list[list[str]], golds: list[str]) -> dict[str, float]:
    return {
        f"recall@{k}": round(
            sum(g in r[:k] for r, g in zip(ranked, golds, strict=True)) / len(golds), 4
        )
        for k in KS
    }


def _tfidf_hits(
    kb: KnowledgeBase, terms: list[str], label: str
) -> tuple[list[list[tuple[str, float]]], list[float]]:
    searcher = CodeSearcher(kb)
    searcher.search("warm up", System.ICD10CM)
    hits, latencies = [], []
    for term in track(terms, description=f"TF-IDF: {label}", console=console):
        start = time.perf_counter()
        found = searcher.search(term, System.ICD10CM, POOL)
        latencies.append(time.perf_counter() - start)
        hits.append([(c.code, c.score) for c in found])
    return hits, latencies


def linking_benchmark(home: Path, settings: Settings) -> dict[str, object]:
    """TF-IDF search, dense retrieval and their merge on the held-out inclusion terms.

    The merge is chosen on ``TUNING_TERMS`` training terms searched in an index without them
    (TF-IDF rebuilt; dense rows reused), never on the held-out terms.
    """
    records = list(icd10cm.load())
    pairs, held = split_inclusion_terms(records)
    tuning = tuning_terms(pairs, held)
    console.print(f"building an ICD-10-CM index without {len(held):,} held-out inclusion terms")
    bench_home = Settings(home=home / "bench")
    build(bench_home, code_sets=[_minus(records, held, "ICD-10-CM minus held-out")], force=True)
    kb = KnowledgeBase.open(bench_home.kb_dir)
    queries = sorted(held)
    terms, golds = [t for t, _ in queries], [g for _, g in queries]
    tfidf, latencies = _tfidf_hits(kb, terms, "held-out")
    result: dict[str, object] = {
        "inclusion_terms": len(pairs),
        "queries": len(held),
        **_recall([[c for c, _ in h] for h in tfidf], golds),
        "median_query_ms": round(statistics.median(latencies) * 1000, 2),
    }
    if not (MODEL_DIR / COMPACT_NAME).exists():
        console.print(f"no bi-encoder in {MODEL_DIR}; dense retrieval not measured")
        kb.close()
        return result

    # The real index's rows hold every name of the bench index: embed once, reuse here.
    real = KnowledgeBase.open(settings.kb_dir)
    dense_real = DenseRetriever.load(real, MODEL_DIR, systems=[System.ICD10CM])
    encoder = dense_real.encoder
    real_rows = stored_vectors(dense_real.paths, System.ICD10CM, encoder.version)
    build_system(
        kb.records(),
        System.ICD10CM,
        encoder,
        DensePaths.of(kb),
        kb.manifest.content_hash,
        reuse=real_rows,
    )
    dense_bench = DenseRetriever(kb, encoder)
    start = time.perf_counter()
    dense = dense_bench.search(terms, System.ICD10CM, POOL)
    dense_seconds = time.perf_counter() - start
    batch_ms = []
    for i in range(0, min(len(terms), 20 * BATCHES), 20):
        start = time.perf_counter()
        dense_bench.search(terms[i : i + 20], System.ICD10CM, 20)
        batch_ms.append((time.perf_counter() - start) * 1000)

    console.print(f"building an ICD-10-CM index without the {len(tuning)} tuning terms too")
    tuning_home = Settings(home=home / "tuning")
    build(
        tuning_home,
        code_sets=[_minus(records, held | tuning, "ICD-10-CM minus held-out and tuning")],
        force=True,
    )
    tuning_kb = KnowledgeBase.open(tuning_home.kb_dir)
    build_system(
        tuning_kb.records(),
        System.ICD10CM,
        encoder,
        DensePaths.of(tuning_kb),
        tuning_kb.manifest.content_hash,
        reuse=real_rows,
    )
    tuning_queries = sorted(tuning)
    tuning_golds = [g for _, g in tuning_queries]
    tuning_tfidf, _ = _tfidf_hits(tuning_kb, [t for t, _ in tuning_queries], "tuning")
    tuning_dense = DenseRetriever(tuning_kb, encoder).search(
        [t for t, _ in tuning_queries], System.ICD10CM, POOL
    )
    choices = {}
    for fusion in FUSIONS:
        merged = [fusion.merge(t, d) for t, d in zip(tuning_tfidf, tuning_dense, strict=True)]
        choices[f"{fusion.method}:{fusion.param:g}"] = _recall(
            [[c for c, _ in m] for m in merged], tuning_golds
        )
    best = max(FUSIONS, key=lambda f: sum(choices[f"{f.method}:{f.param:g}"].values()))
    merged = [best.merge(t, d) for t, d in zip(tfidf, dense, strict=True)]
    tuning_kb.close()
    kb.close()
    real.close()
    return {
        **result,
        "tfidf": _recall([[c for c, _ in h] for h in tfidf], golds),
        "dense": {
            **_recall([[c for c, _ in h] for h in dense], golds),
            "encoder": encoder.version,
            "encode_and_search_seconds_all_queries": round(dense_seconds, 1),
            "median_batch_of_20_ms": round(statistics.median(batch_ms), 1),
            "threads": torch.get_num_threads(),
        },
        "merged": {
            **_recall([[c for c, _ in m] for m in merged], golds),
            "fusion": f"{best.method}:{best.param:g}",
            "candidates_per_retriever": POOL,
        },
        "fusion_tuning": {
            "terms": len(tuning),
            "tfidf": _recall([[c for c, _ in h] for h in tuning_tfidf], tuning_golds),
            "dense": _recall([[c for c, _ in h] for h in tuning_dense], tuning_golds),
            "merged": choices,
        },
    }


def dense_budgets(settings: Settings) -> dict[str, object]:
    """The real dense index: rows, size and build figures per system, and batch latency."""
    if not (MODEL_DIR / COMPACT_NAME).exists():
        return {}
    kb = KnowledgeBase.open(settings.kb_dir)
    retriever = DenseRetriever.load(kb, MODEL_DIR)
    manifest = DenseManifest.load(retriever.paths.manifest)
    systems = {}
    for name, entry in manifest.systems.items():
        system = System(name)
        size = (
            retriever.paths.vectors(system).stat().st_size
            + retriever.paths.rows(system).stat().st_size
        )
        systems[name] = {**entry.model_dump(), "megabytes": round(size / 2**20, 1)}
    records = [r for r in icd10cm.load() if r.synonyms]
    mentions = [
        t for r in random.Random(SEED).sample(records, 20 * BATCHES) for t in r.synonyms[:1]
    ]
    one, every = [], []
    for i in range(0, len(mentions), 20):
        batch = mentions[i : i + 20]
        start = time.perf_counter()
        retriever.search(batch, System.ICD10CM, 20)
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        vectors = retriever.encode(batch)
        for system in kb.systems:
            retriever.search_vectors(vectors, system, 20)
        every.append(time.perf_counter() - start)
    kb.close()
    return {
        "systems": systems,
        "median_batch_of_20_ms_one_system": round(statistics.median(one) * 1000, 1),
        "median_batch_of_20_ms_all_systems": round(statistics.median(every) * 1000, 1),
        "threads": torch.get_num_threads(),
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
    torch.set_num_threads(1)  # dense figures are for one core (torch and numpy's BLAS)
    settings = get_settings()
    with threadpool_limits(1), tempfile.TemporaryDirectory(prefix="cac-bench-") as scratch:
        linking = linking_benchmark(Path(scratch) / "linking", settings)
        budget = budgets(settings, Path(scratch) / "full")
    result = {"linking": linking, "budgets": budget, "dense_index": dense_budgets(settings)}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print_json(json.dumps(result))
    console.print(f"written to {REPORT}")


if __name__ == "__main__":
    main()
