"""Coherence of shown lists, from the knowledge base alone (never from gold): the share of
notes whose shown ICD-10-CM list holds an Excludes1 pair, an unspecified code beside a more
specific code of its category, a code that is not billable, or two codes of one exclusive
axis; and the share whose shown ICD-10-PCS list holds a code that is not a full code.

The checks are the conventions stage's own (:mod:`cac.coding`), so the figures say how often
the shown list breaks the rules the product claims to follow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cac.codesets.records import CodeRecord, System, normalize_code
from cac.coding import axes, specificity
from cac.coding.excludes import Excludes1
from cac.coding.notes import TabularNotes
from cac.kb.store import KnowledgeBase

CHECKS = ("excludes1_pair", "unspecified_beside_specific", "non_billable", "exclusive_axis")


class Coherence:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.excludes = Excludes1(TabularNotes(kb))

    def issues(self, system: System, codes: Sequence[str]) -> dict[str, bool]:
        """Which checks one shown list of ``system`` fails."""
        records = [r for c in codes if (r := self.kb.get(system, c)) is not None]
        non_billable = any(not r.billable or not r.active for r in records)
        if system is not System.ICD10CM:
            return {"non_billable": non_billable}
        norm = [normalize_code(c) for c in codes]
        return {
            "excludes1_pair": bool(self.excludes.pairs(norm)),
            "unspecified_beside_specific": bool(
                specificity.unspecified_beside_specific(_billable(records))
            ),
            "non_billable": non_billable,
            "exclusive_axis": bool(axes.conflicts(norm)),
        }

    def report(
        self, shown: Mapping[System, Mapping[str, Sequence[str]]], docs: int
    ) -> dict[str, Any]:
        """Per system: notes failing each check, and their share of ``docs``."""
        out: dict[str, Any] = {}
        for system, lists in shown.items():
            counts: dict[str, int] = {}
            for codes in lists.values():
                for check, failed in self.issues(system, codes).items():
                    counts[check] = counts.get(check, 0) + int(failed)
            out[system.value] = {
                check: {"notes": n, "share": round(n / max(docs, 1), 4)}
                for check, n in sorted(counts.items())
            }
        return out


def _billable(records: list[CodeRecord]) -> list[CodeRecord]:
    return [r for r in records if r.billable]
