"""Code priors from CodiEsp train: how often each code is in a train document's gold.

Run: ``python -m training.priors`` (``make lexicon`` runs it too). Writes
``models/code_priors.json``: for every active ICD-10-CM and ICD-10-PCS code, the share of train
documents whose gold holds it (compared in the benchmark's convention via ``eval.crosswalk``);
codes never seen are left out (prior 0). The coder uses the prior to order suggestions of equal
evidence. Reads only the train split.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from rich.console import Console

from cac.codesets.records import System
from cac.config import get_settings
from cac.kb.store import KnowledgeBase
from eval.codiesp import DEFAULT_DIR, CodiEspSplit, load_split
from eval.crosswalk import Crosswalk

MODELS = Path(__file__).parent.parent / "models"
OUT = MODELS / "code_priors.json"
console = Console()


def code_priors(
    kb: KnowledgeBase, train: CodiEspSplit | None = None
) -> dict[str, dict[str, float]]:
    """``{system: {code: share of train documents with the code in their gold}}`` (all of
    CodiEsp train by default, or the given part of it)."""
    train = train or load_split(DEFAULT_DIR, "train")
    crosswalk = Crosswalk(kb, [c for codes in train.gold_d.values() for c in codes])
    docs = len(train.texts)
    counts = {
        System.ICD10CM: Counter(c for codes in train.gold_d.values() for c in set(codes)),
        System.ICD10PCS: Counter(c for codes in train.gold_p.values() for c in set(codes)),
    }
    out: dict[str, dict[str, float]] = {}
    for record in kb.records():
        if record.system not in counts or not record.active:
            continue
        if record.system is System.ICD10CM:
            mapped = crosswalk.d(record.code)
        else:
            mapped = crosswalk.p(record.code)
        n = counts[record.system].get(mapped, 0)
        if n:
            out.setdefault(record.system.value, {})[record.code] = round(n / docs, 4)
    return out


def main() -> None:
    kb = KnowledgeBase.open(get_settings().kb_dir)
    priors = code_priors(kb)
    OUT.write_text(json.dumps(priors, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    console.print(f"wrote priors for {sum(len(v) for v in priors.values()):,} codes to {OUT}")


if __name__ == "__main__":
    main()
