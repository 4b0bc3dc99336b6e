"""CodiEsp metrics: MAP as the official scorer defines it, and micro P/R/F1 of shown codes.

MAP: for every document with gold codes, the predicted list is taken in submitted order, codes
lower-cased, duplicates dropped (first occurrence kept) and codes outside the valid list removed;
AP = (1/|gold|) * sum of precision@k over the ranks k that hold a gold code. Documents without
predictions score 0. MAP is the mean over the gold documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass


def clean_ranking(codes: Iterable[str], valid: Callable[[str], bool] | None = None) -> list[str]:
    """Lower-case, drop invalid codes and duplicates, keep the submitted order."""
    seen: set[str] = set()
    out: list[str] = []
    for code in codes:
        norm = code.strip().lower()
        if not norm or norm in seen or (valid is not None and not valid(norm)):
            continue
        seen.add(norm)
        out.append(norm)
    return out


def average_precision(ranked: Sequence[str], gold: set[str]) -> float:
    """AP of one ranked list against a gold set (both already normalised)."""
    if not gold:
        return 0.0
    hits = 0
    total = 0.0
    for rank, code in enumerate(ranked, start=1):
        if code in gold:
            hits += 1
            total += hits / rank
    return total / len(gold)


def mean_average_precision(
    predictions: Mapping[str, Sequence[str]],
    gold: Mapping[str, Iterable[str]],
    valid: Callable[[str], bool] | None = None,
) -> float:
    """MAP over the documents of ``gold``; a document missing from ``predictions`` scores 0."""
    docs = [doc for doc, codes in gold.items() if any(True for _ in codes)]
    if not docs:
        return 0.0
    total = 0.0
    for doc in docs:
        gold_set = {c.strip().lower() for c in gold[doc]}
        total += average_precision(clean_ranking(predictions.get(doc, ()), valid), gold_set)
    return total / len(docs)


@dataclass(frozen=True)
class PRF:
    """Micro precision, recall and F1 with their counts."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    gold: int


def micro_prf(
    shown: Mapping[str, Iterable[str]],
    gold: Mapping[str, Iterable[str]],
    valid: Callable[[str], bool] | None = None,
) -> PRF:
    """Micro P/R/F1 of the de-duplicated shown codes against gold, over all documents."""
    tp = predicted = n_gold = 0
    for doc in set(shown) | set(gold):
        pred = set(clean_ranking(shown.get(doc, ()), valid))
        truth = {c.strip().lower() for c in gold.get(doc, ())}
        tp += len(pred & truth)
        predicted += len(pred)
        n_gold += len(truth)
    precision = tp / predicted if predicted else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, tp, predicted, n_gold)
