"""Excludes1 pairs from the knowledge base (Guidelines I.A.12.a): a code whose Excludes1 note,
or one of its ancestors', names another code is never shown with it.

The tabular notes name codes in parentheses ("type 2 diabetes mellitus (E11.-)",
"(K80.0-K80.1)", "(I15.0, I15.1)"); those references are read as code patterns
(:mod:`cac.coding.rules`). Notes of blocks and chapters apply to every code below them.
"""

from __future__ import annotations

from collections.abc import Sequence

from cac.codesets.records import CodeRecord, normalize_code
from cac.coding.notes import TabularNotes
from cac.coding.rules import CodePattern
from cac.coding.statements import NoteStatements, content_stems, record_requirements

SECTION = "I.A.12.a"
RULE = "excludes1"
STATED_RULE = "excludes1.stated"
# qualifiers of an Excludes1 term a note need not say ("secondary diabetes mellitus NEC")
_QUALIFIERS = frozenset({"nec", "nos"})


class Excludes1:
    """Excludes1 references of ICD-10-CM codes and their ancestors, read once per code."""

    def __init__(self, notes: TabularNotes) -> None:
        self.notes = notes

    def of(self, code: str) -> tuple[CodePattern, ...]:
        """What ``code`` (normalised) and its ancestors exclude."""
        return self.notes.references(code, "excludes1")

    def stated_at(
        self, record: CodeRecord, note: NoteStatements, spans: Sequence[tuple[int, int]]
    ) -> str | None:
        """An Excludes1 term of ``record`` (or its ancestors) that a sentence of ``note`` states
        in words overlapping ``spans`` (the code's evidence), if one does: "gestational
        diabetes" is no E11 *Type 2 diabetes mellitus*, whose note excludes it. A term needs a
        word the code's own terms lack, and none of its words denied."""
        own = frozenset().union(*(r.need for r in record_requirements(record)))
        for term in self.notes.texts(record.code, "excludes1"):
            need = content_stems(term) - _QUALIFIERS
            if not need or not need - own:
                continue
            for sentence in note.sentences:
                if not need <= sentence.stems:
                    continue
                start, end = sentence.span(need)
                if any(a < end and start < b for a, b in spans):
                    return term
        return None

    def excluded(self, a: str, b: str) -> bool:
        """Whether an Excludes1 note of ``a`` (or its ancestors) names ``b``, or the reverse."""
        a, b = normalize_code(a), normalize_code(b)
        if a == b:
            return False
        return any(p.matches(b) for p in self.of(a)) or any(p.matches(a) for p in self.of(b))

    def pairs(self, codes: Sequence[str]) -> list[tuple[str, str]]:
        """Every Excludes1 pair among ``codes`` (ICD-10-CM, any form), in input order."""
        norm = [normalize_code(c) for c in codes]
        return [
            (codes[i], codes[j])
            for i in range(len(norm))
            for j in range(i + 1, len(norm))
            if self.excluded(norm[i], norm[j])
        ]
