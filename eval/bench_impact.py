"""``make bench-impact``: what the impact stage adds per note, in paired runs on CodiEsp dev.

For each dev note, alternately in either order, one run codes it (``Coder.code``) and one codes
it and computes its impact from the shown codes, as the service does; the per-note difference
of the pair, and the impact call's own time, are reported as medians. The grouper's and the HCC
models' tables are loaded once before the runs (their load time is reported apart), as the
service loads them at start-up.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from cac.codesets.records import System
from cac.impact import ImpactRequest, shared_engine
from cac.pipeline import Coder, CodingResult
from eval.codiesp import DEFAULT_DIR, load_texts

REPORT = Path(__file__).parent / "reports" / "bench_impact.json"


def _request(result: CodingResult) -> ImpactRequest:
    shown = [s for s in result.suggestions if s.shown and not s.needs_specificity]
    dx = tuple(s.code for s in shown if s.system is System.ICD10CM)
    pcs = tuple(s.code for s in shown if s.system is System.ICD10PCS)
    return ImpactRequest(dx, pcs, "inpatient")


def main() -> None:
    coder = Coder.load()
    start = time.perf_counter()
    engine = shared_engine()
    load_seconds = time.perf_counter() - start
    texts = list(load_texts(DEFAULT_DIR, "dev").values())
    coder.code("warm up note with pneumonia.")
    engine.assess(ImpactRequest(("J18.9",)))
    plain, paired, own, prompts = [], [], [], []
    for index, text in enumerate(texts):
        runs: dict[str, float] = {}
        for kind in ("plain", "impact") if index % 2 == 0 else ("impact", "plain"):
            start = time.perf_counter()
            result = coder.code(text)
            if kind == "impact":
                request = _request(result)
                inner = time.perf_counter()
                impact = engine.assess(request) if request.diagnoses else None
                own.append(time.perf_counter() - inner)
                prompts.append(len(impact.prompts) if impact else 0)
            runs[kind] = time.perf_counter() - start
        plain.append(runs["plain"])
        paired.append(runs["impact"] - runs["plain"])
    result = {
        "docs": len(texts),
        "impact_load_seconds": round(load_seconds, 3),
        "median_ms_coding": round(1000 * statistics.median(plain), 2),
        "median_ms_impact_call": round(1000 * statistics.median(own), 3),
        "p95_ms_impact_call": round(1000 * sorted(own)[int(0.95 * len(own))], 3),
        "median_ms_paired_difference": round(1000 * statistics.median(paired), 2),
        "mean_prompts_per_note": round(statistics.mean(prompts), 2),
    }
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
