"""Specificity from the code set (Guidelines I.A.9.b, I.B.2): when the note states the axes of a
more specific code of a shown code's category (heart-failure type and acuity, exacerbation, CKD
stage, "with" a complication), that code is shown instead; an "unspecified" code is not shown
beside a more specific code of its category.

A code is a refinement of another when its title (or an inclusion term) needs every word the
other's needs and more (:mod:`cac.coding.statements`), and the note states it in one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cac.codesets.records import CodeRecord, System
from cac.coding.statements import NoteStatements, TitleRequirement, crosses, record_requirements
from cac.kb.store import KnowledgeBase

SECTION = "I.A.9.b; I.B.2"
REFINE_RULE = "specificity.stated_axes"
UNSPECIFIED_RULE = "specificity.unspecified_beside_specific"
UNSTATED_RULE = "specificity.not_stated"
SUBSUMED_RULE = "specificity.subsumed"
# Categories with more billable codes than this (injuries by 7th character) are not searched.
MAX_CATEGORY_CODES = 400
CACHED_CATEGORIES = 2_000
_UNSPECIFIED = re.compile(r"\bunspecified\b|\bwithout complications?\b|\bNOS\b", re.IGNORECASE)


def is_unspecified(record: CodeRecord) -> bool:
    """A code whose title says it is the category's residual, not-stated-further code."""
    return bool(_UNSPECIFIED.search(record.title))


def unspecified_beside_specific(
    records: list[CodeRecord],
) -> list[tuple[CodeRecord, CodeRecord]]:
    """(unspecified, specific) pairs of ICD-10-CM codes of one category among ``records``."""
    out = []
    for a in records:
        if a.system is not System.ICD10CM or not is_unspecified(a):
            continue
        for b in records:
            if b.code != a.code and _refines(a.code, b.code) and not is_unspecified(b):
                out.append((a, b))
                break
    return out


def _refines(unspecified: str, specific: str) -> bool:
    """Whether ``specific`` says more on the axis ``unspecified`` leaves open: the category's
    residual (its 4th character 9, or a 3-character code: E11.9, R05.9) against any code of the
    category, a subcategory's unspecified code (E11.319) only against its own subcategory
    (E11.311, not E11.21: a second complication is its own code, I.C.4.a)."""
    a, b = unspecified.replace(".", ""), specific.replace(".", "")
    if a[:3] != b[:3]:
        return False
    return len(a) <= 3 or a[3] == "9" or a[:4] == b[:4]


class Specificity:
    """The billable codes of a category with their compiled titles, read once per category."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._categories: dict[str, list[tuple[CodeRecord, tuple[TitleRequirement, ...]]]] = {}

    def _said(
        self,
        category: str,
        note: NoteStatements,
        memo: dict[str, list[tuple[CodeRecord, list[TitleRequirement]]]] | None,
    ) -> list[tuple[CodeRecord, list[TitleRequirement]]]:
        """The category's codes with those of their titles whose every word the note says."""
        if memo is not None and category in memo:
            return memo[category]
        words = note.all_stems
        found = [
            (other, kept)
            for other, requirements in self.category(category)
            if (kept := [r for r in requirements if r.need <= words])
        ]
        if memo is not None:
            memo[category] = found
        return found

    def category(self, code: str) -> list[tuple[CodeRecord, tuple[TitleRequirement, ...]]]:
        key = code[:3]
        if key not in self._categories:
            if len(self._categories) > CACHED_CATEGORIES:
                self._categories = {}
            below = self.kb.billable_descendants(System.ICD10CM, key, limit=MAX_CATEGORY_CODES + 1)
            self._categories[key] = (
                []
                if len(below) > MAX_CATEGORY_CODES
                else [(r, record_requirements(r)) for r in below]
            )
        return self._categories[key]

    def refine(
        self,
        record: CodeRecord,
        note: NoteStatements,
        categories: Iterable[str] = (),
        taken: Iterable[tuple[int, int]] = (),
        memo: dict[str, list[tuple[CodeRecord, list[TitleRequirement]]]] | None = None,
    ) -> tuple[CodeRecord, tuple[int, int]] | None:
        """The most specific code that refines ``record`` and that the note states, with the
        span that states it; None when the note says no more. The codes searched are those of
        ``record``'s category and of ``categories`` (the note's other candidates': "chronic
        cholecystitis with cholelithiasis" refines K81.1 to K80.10). A span that crosses into
        one of ``taken`` (the words stating another shown code) borrows that code's words and
        states nothing: "heart failure and end stage renal disease" is not I50.84. ``memo``,
        one per note, keeps what :meth:`_said` found for each category across calls."""
        taken = list(taken)
        own = record_requirements(record)
        if not own or note.states(own) is None:
            return None
        # its own category's refinements first: N18.9 -> N18.30 before E11.22
        best: tuple[tuple[bool, int], CodeRecord, tuple[int, int]] | None = None
        searched = dict.fromkeys([record.code[:3], *categories])
        for other, requirements in (pair for c in searched for pair in self._said(c, note, memo)):
            if other.code == record.code:
                continue
            refining = [r for r in requirements if any(o.need < r.need for o in own)]
            if not refining:
                continue
            stated = note.states(refining)
            if stated is None:
                continue
            weight, start, end = stated
            if any(crosses((start, end), t) for t in taken):
                continue
            key = (other.code[:3] == record.code[:3], weight)
            if best is None or key > best[0] or (key == best[0] and other.code < best[1].code):
                best = (key, other, (start, end))
        return (best[1], best[2]) if best else None
