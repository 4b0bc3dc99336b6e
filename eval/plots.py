"""Plots for the evaluation report: confidence reliability and recall per ICD-10-CM chapter.

Both read the predictions ``eval.run`` writes and the gold of the same split, after prediction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.run import Prediction

BINS = 10
# ICD-10-CM chapters by the first letter (and digits) of a code.
_CHAPTERS = (
    ("A00", "B99", "I infectious"),
    ("C00", "D49", "II neoplasms"),
    ("D50", "D89", "III blood"),
    ("E00", "E89", "IV endocrine"),
    ("F01", "F99", "V mental"),
    ("G00", "G99", "VI nervous"),
    ("H00", "H59", "VII eye"),
    ("H60", "H95", "VIII ear"),
    ("I00", "I99", "IX circulatory"),
    ("J00", "J99", "X respiratory"),
    ("K00", "K95", "XI digestive"),
    ("L00", "L99", "XII skin"),
    ("M00", "M99", "XIII musculoskeletal"),
    ("N00", "N99", "XIV genitourinary"),
    ("O00", "O9A", "XV pregnancy"),
    ("P00", "P96", "XVI perinatal"),
    ("Q00", "Q99", "XVII congenital"),
    ("R00", "R99", "XVIII symptoms"),
    ("S00", "T88", "XIX injury"),
    ("V00", "Y99", "XX external causes"),
    ("Z00", "Z99", "XXI factors"),
)


def chapter(code: str) -> str:
    """The ICD-10-CM chapter of a code ("IX circulatory"), or "other"."""
    head = code.replace(".", "").upper()[:3]
    for first, last, name in _CHAPTERS:
        if first <= head <= last:
            return name
    return "other"


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_confidence: float
    precision: float


def reliability(
    predictions: list[Prediction], gold: dict[str, list[str]], task: str
) -> list[ReliabilityBin]:
    """Predictions of one task binned by confidence, with the share that are in the gold."""
    return bin_scores(_scored(predictions, gold, task))


def _scored(
    predictions: Iterable[Prediction], gold: dict[str, list[str]], task: str
) -> list[tuple[float, bool]]:
    """(confidence, in the gold) of each prediction of ``task``."""
    truth = {doc: {c.lower() for c in codes} for doc, codes in gold.items()}
    return [
        (p.confidence, p.code.lower() in truth.get(p.doc_id, set()))
        for p in predictions
        if p.task == task
    ]


def bin_scores(scored: Iterable[tuple[float, bool]]) -> list[ReliabilityBin]:
    """(confidence, right) pairs in :data:`BINS` equal-width bins; empty bins are left out."""
    bins: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for confidence, hit in scored:
        bins[min(int(confidence * BINS), BINS - 1)].append((confidence, hit))
    out = []
    for index in range(BINS):
        items = bins.get(index, [])
        if items:
            out.append(
                ReliabilityBin(
                    index / BINS,
                    (index + 1) / BINS,
                    len(items),
                    sum(c for c, _ in items) / len(items),
                    sum(hit for _, hit in items) / len(items),
                )
            )
    return out


def expected_calibration_error(bins: list[ReliabilityBin]) -> float:
    """Count-weighted mean gap between confidence and precision over the bins."""
    total = sum(b.count for b in bins)
    if not total:
        return 0.0
    return sum(b.count * abs(b.mean_confidence - b.precision) for b in bins) / total


def ece_interval(
    predictions: list[Prediction],
    gold: dict[str, list[str]],
    task: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """5th and 95th percentile of the ECE when the documents of ``gold`` are resampled with
    replacement (a document's predictions travel together): how much of an ECE is noise."""
    import random

    by_doc: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        by_doc[p.doc_id].append(p)
    # Each document's (confidence, right) pairs, against its own gold, drawn as a whole.
    scored = {d: _scored(by_doc.get(d, []), {d: gold[d]}, task) for d in gold}
    docs = sorted(gold)
    rng = random.Random(seed)
    values = []
    for _ in range(samples):
        drawn = [pair for _ in docs for pair in scored[rng.choice(docs)]]
        values.append(expected_calibration_error(bin_scores(drawn)))
    values.sort()
    return values[int(0.05 * (samples - 1))], values[int(0.95 * (samples - 1))]


def recall_by_chapter(
    predictions: list[Prediction], gold: dict[str, list[str]]
) -> dict[str, tuple[int, float]]:
    """For D: per chapter, the number of gold codes and the share of them shown to the coder."""
    shown = defaultdict(set)
    for p in predictions:
        if p.task == "D" and p.shown:
            shown[p.doc_id].add(p.code.lower())
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for doc, codes in gold.items():
        for code in {c.lower() for c in codes}:
            c = counts[chapter(code)]
            c[0] += 1
            c[1] += code in shown.get(doc, set())
    return {name: (n, hit / n) for name, (n, hit) in sorted(counts.items()) if n}


def plot_reliability(curves: dict[str, list[ReliabilityBin]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for task, bins in curves.items():
        ece = expected_calibration_error(bins)
        ax.plot(
            [b.mean_confidence for b in bins],
            [b.precision for b in bins],
            marker="o",
            label=f"{task} (ECE {ece:.3f})",
        )
    ax.set_xlabel("confidence")
    ax.set_ylabel("share correct (CodiEsp dev gold)")
    ax.set_title("Confidence reliability, CodiEsp dev")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_chapter_recall(recall: dict[str, tuple[int, float]], path: Path) -> None:
    names = list(recall)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(names, [recall[n][1] for n in names])
    for i, name in enumerate(names):
        ax.text(recall[name][1] + 0.01, i, f"n={recall[name][0]}", va="center", fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.invert_yaxis()
    ax.set_xlabel("recall of shown D suggestions")
    ax.set_title("Recall per ICD-10-CM chapter, CodiEsp dev")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
