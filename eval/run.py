"""Run the Coder over a CodiEsp split and score it (``cac eval codiesp``).

Gold labels are read only after every document has been coded: prediction never sees them.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track

from cac.codesets.records import System
from cac.coding.records import Suggestion
from cac.pipeline import Coder
from eval.codiesp import DEFAULT_DIR, load_split, load_texts
from eval.coherence import Coherence
from eval.crosswalk import Crosswalk
from eval.scoring import mean_average_precision, micro_prf


@dataclass(frozen=True)
class Prediction:
    doc_id: str
    task: str
    code: str
    rank: int
    confidence: float
    shown: bool


@dataclass
class Predicted:
    """A split's predictions with the conventions stage on (the product) and off, and the
    shown lists in the product's own codes (for the coherence figures)."""

    on: list[Prediction] = field(default_factory=list)
    off: list[Prediction] = field(default_factory=list)
    shown_on: dict[System, dict[str, list[str]]] = field(default_factory=dict)
    shown_off: dict[System, dict[str, list[str]]] = field(default_factory=dict)


def predict(coder: Coder, texts: dict[str, str], crosswalk: Crosswalk) -> list[Prediction]:
    """Ranked D and P predictions per document, in the benchmark's code convention."""
    return predict_both(coder, texts, crosswalk).on


def predict_both(coder: Coder, texts: dict[str, str], crosswalk: Crosswalk) -> Predicted:
    """Like :func:`predict`, with each note coded once and the conventions applied to it
    after (so "off" is the same note's list without the stage)."""
    conventions = coder.conventions
    out = Predicted()
    console = Console(stderr=True)
    coder.conventions = None
    try:
        for doc_id, text in track(sorted(texts.items()), "coding", console=console):
            raw = coder.code(text, "inpatient").suggestions
            final = conventions.apply(raw, text) if conventions is not None else raw
            for suggestions, preds, shown in (
                (final, out.on, out.shown_on),
                (raw, out.off, out.shown_off),
            ):
                _rank(doc_id, suggestions, crosswalk, preds, shown)
    finally:
        coder.conventions = conventions
    return out


def _rank(
    doc_id: str,
    suggestions: list[Suggestion],
    crosswalk: Crosswalk,
    out: list[Prediction],
    shown: dict[System, dict[str, list[str]]],
) -> None:
    for task, system in (("D", System.ICD10CM), ("P", System.ICD10PCS)):
        mapped = crosswalk.d if system is System.ICD10CM else crosswalk.p
        seen: set[str] = set()
        rank = 0
        shown.setdefault(system, {})[doc_id] = [
            s.code for s in suggestions if s.system is system and s.shown
        ]
        for s in (s for s in suggestions if s.system is system):
            code = mapped(s.code)
            if code in seen:
                continue
            seen.add(code)
            rank += 1
            out.append(Prediction(doc_id, task, code, rank, s.confidence, s.shown))


def evaluate(split: str, data_dir: Path = DEFAULT_DIR, out: Path | None = None) -> dict[str, Any]:
    """Code every document of ``split`` and score D and P (MAP, shown-list P/R/F1)."""
    return run_split(split, data_dir, out)[0]


def run_split(
    split: str, data_dir: Path = DEFAULT_DIR, out: Path | None = None, coder: Coder | None = None
) -> tuple[dict[str, Any], list[Prediction], Any]:
    """Like :func:`evaluate`, also returning the predictions and the split's gold."""
    coder = coder or Coder.load()
    texts = load_texts(data_dir, split)
    train = load_split(DEFAULT_DIR, "train")
    crosswalk = Crosswalk(coder.kb, [c for codes in train.gold_d.values() for c in codes])
    start = time.perf_counter()
    both = predict_both(coder, texts, crosswalk)
    predictions = both.on
    seconds = time.perf_counter() - start
    coherence = Coherence(coder.kb)
    report: dict[str, Any] = {
        "split": split,
        "docs": len(texts),
        # from the knowledge base alone, before gold is read
        "coherence": {
            "conventions_on": coherence.report(both.shown_on, len(texts)),
            "conventions_off": coherence.report(both.shown_off, len(texts)),
        },
    }
    gold = load_split(data_dir, split)  # read gold only now
    report.update(_scores(both.on, gold))
    report["conventions_off"] = _scores(both.off, gold)
    report["seconds_per_doc"] = round(seconds / max(len(texts), 1), 4)
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(["doc_id", "task", "code", "rank", "confidence", "shown"])
            for p in predictions:
                writer.writerow(
                    [p.doc_id, p.task, p.code, p.rank, f"{p.confidence:.4f}", str(p.shown).lower()]
                )
    return report, predictions, gold


def _scores(predictions: list[Prediction], gold: Any) -> dict[str, Any]:
    """MAP over the ranked lists and micro P/R/F1 of the shown lists, for D and P."""
    out: dict[str, Any] = {}
    for task, truth in (("D", gold.gold_d), ("P", gold.gold_p)):
        ranked: dict[str, list[str]] = {}
        shown: dict[str, list[str]] = {}
        for p in predictions:
            if p.task == task:
                ranked.setdefault(p.doc_id, []).append(p.code)
                if p.shown:
                    shown.setdefault(p.doc_id, []).append(p.code)
        prf = micro_prf(shown, truth)
        out[task] = {
            "map": round(mean_average_precision(ranked, truth), 4),
            "precision": round(prf.precision, 4),
            "recall": round(prf.recall, 4),
            "f1": round(prf.f1, 4),
        }
    return out
