"""Merging ranked candidate lists of several retrievers (TF-IDF search and the dense index).

Two ways, both over ``(code, score)`` lists, best first:

- reciprocal-rank fusion: ``sum 1 / (k + rank)`` over the lists a code appears in;
- weighted scores: ``weight * dense + (1 - weight) * tfidf``, a code missing from one list
  taking that list's lowest score (it ranked below everything listed).

``DEFAULT`` is what ``make bench-kb`` chose on its tuning slice of training inclusion terms (never
on the held-out ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Hits = Sequence[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class Fusion:
    """How to merge: ``rrf`` with constant ``param``, ``weighted`` with dense weight ``param``."""

    method: Literal["rrf", "weighted"]
    param: float

    def merge(self, tfidf: Hits, dense: Hits) -> list[tuple[str, float]]:
        """The union of both lists, best first (ties by code)."""
        if self.method == "rrf":
            return reciprocal_rank(tfidf, dense, k=self.param)
        return weighted(tfidf, dense, weight=self.param)


def reciprocal_rank(*lists: Hits, k: float = 60.0) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of ranked lists."""
    scores: dict[str, float] = {}
    for hits in lists:
        for rank, (code, _) in enumerate(hits, start=1):
            scores[code] = scores.get(code, 0.0) + 1.0 / (k + rank)
    return _ranked(scores)


def weighted(tfidf: Hits, dense: Hits, weight: float) -> list[tuple[str, float]]:
    """``weight * dense + (1 - weight) * tfidf``; a missing score is that list's lowest."""
    low_t = min((s for _, s in tfidf), default=0.0)
    low_d = min((s for _, s in dense), default=0.0)
    by_t, by_d = dict(tfidf), dict(dense)
    scores = {
        code: weight * by_d.get(code, low_d) + (1.0 - weight) * by_t.get(code, low_t)
        for code in by_t.keys() | by_d.keys()
    }
    return _ranked(scores)


def _ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    return [(c, round(s, 6)) for c, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


# Chosen by ``make bench-kb`` on the tuning slice, by the sum of recall@1/5/20: 0.308 / 0.680 /
# 0.852 there (dense alone 0.312 / 0.670 / 0.840); see eval/reports/bench_kb.json.
DEFAULT = Fusion("weighted", 0.7)
