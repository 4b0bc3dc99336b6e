"""Mention evaluation on brat standoff files (``cac eval mentions``).

Labels are mapped to cac's two mention labels: ``Disease_disorder`` and ``Sign_symptom`` ->
DIAGNOSIS, ``Diagnostic_procedure`` and ``Therapeutic_procedure`` -> PROCEDURE; other brat labels
are ignored. Scores are precision / recall / F1, exact (same offsets) and overlap (any shared
character), per label and micro-averaged. Predicted mentions are first reduced to the longest
non-overlapping spans per label, as a tagger would output them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cac.errors import CacError

LABELS = {
    "Disease_disorder": "DIAGNOSIS",
    "Sign_symptom": "DIAGNOSIS",
    "Diagnostic_procedure": "PROCEDURE",
    "Therapeutic_procedure": "PROCEDURE",
}
# MACCROBAT's labels for a condition placed in the past or in a relative ("20-year history of
# hypertension", "mother had diabetes mellitus") and for a measured value ("BMI of 40"), kept
# as they are for the evidence scorer only.
CONTEXT_LABELS = frozenset({"History", "Family_history", "Lab_value"})
DEFAULT_DIR = Path(__file__).parent / "data" / "maccrobat" / "MACCROBAT2020"

Span = tuple[int, int, str]  # start, end, label


@dataclass(frozen=True)
class BratDoc:
    doc_id: str
    text: str
    spans: list[Span]
    # History, Family_history and Lab_value entities (start, end, brat label), for the
    # evidence scorer
    context: tuple[Span, ...] = ()


def read_ann(path: Path, labels: Mapping[str, str] = LABELS) -> list[Span]:
    """Mapped text-bound spans of one ``.ann`` file (discontinuous spans use their outer bounds);
    ``labels`` maps the brat labels kept to the labels given."""
    spans: list[Span] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("T"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise CacError(f"{path}, line {number}: malformed text-bound annotation")
        label, *offsets = fields[1].replace(";", " ").split()
        if label not in labels:
            continue
        try:
            numbers = [int(o) for o in offsets]
        except ValueError:
            raise CacError(f"{path}, line {number}: offsets are not integers") from None
        spans.append((min(numbers), max(numbers), labels[label]))
    return spans


def read_dir(directory: Path) -> list[BratDoc]:
    """Every ``.txt`` with its ``.ann`` in a folder, sorted by name.

    Raises:
        CacError: if the folder holds no ``.txt``/``.ann`` pairs.
    """
    docs = []
    for text_path in sorted(directory.glob("*.txt")):
        ann = text_path.with_suffix(".ann")
        if ann.exists():
            text = text_path.read_text(encoding="utf-8")
            context = tuple(read_ann(ann, {k: k for k in CONTEXT_LABELS}))
            docs.append(BratDoc(text_path.stem, text, read_ann(ann), context))
    if not docs:
        raise CacError(f"no brat .txt/.ann pairs in {directory}")
    return docs


def dev_slice(docs: list[BratDoc]) -> list[BratDoc]:
    """cac's MACCROBAT dev slice: every 5th document in name order."""
    return [d for i, d in enumerate(sorted(docs, key=lambda d: d.doc_id)) if i % 5 == 0]


def longest_first(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans per label, preferring longer ones, in text order."""
    kept: list[Span] = []
    for span in sorted(set(spans), key=lambda s: (-(s[1] - s[0]), s[0])):
        if not any(k[2] == span[2] and k[0] < span[1] and span[0] < k[1] for k in kept):
            kept.append(span)
    return sorted(kept)


def _prf(tp_pred: int, n_pred: int, tp_gold: int, n_gold: int) -> dict[str, float]:
    precision = tp_pred / n_pred if n_pred else 0.0
    recall = tp_gold / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def score(pairs: Iterable[tuple[list[Span], list[Span]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Exact and overlap P/R/F1 per label and micro, over ``(predicted, gold)`` span lists."""
    counts: dict[str, dict[str, list[int]]] = {}
    for predicted, gold in pairs:
        for label in ("DIAGNOSIS", "PROCEDURE", "micro"):
            pred = [p for p in predicted if label in ("micro", p[2])]
            truth = [g for g in gold if label in ("micro", g[2])]
            for mode in ("exact", "overlap"):
                if mode == "exact":
                    matched_pred = sum(p in truth for p in pred)
                    matched_gold = sum(g in pred for g in truth)
                else:
                    matched_pred = sum(any(_overlaps(p, g) for g in truth) for p in pred)
                    matched_gold = sum(any(_overlaps(p, g) for p in pred) for g in truth)
                c = counts.setdefault(mode, {}).setdefault(label, [0, 0, 0, 0])
                c[0] += matched_pred
                c[1] += len(pred)
                c[2] += matched_gold
                c[3] += len(truth)
    return {
        mode: {label: _prf(*c) for label, c in by_label.items()}
        for mode, by_label in counts.items()
    }


def _overlaps(a: Span, b: Span) -> bool:
    return a[2] == b[2] and a[0] < b[1] and b[0] < a[1]
