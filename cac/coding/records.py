"""The typed hand-offs of the coding stages: mentions, evidence, suggestions, and the rule
citations that say why a code is shown (``rationale``) or kept back (``suppressed_by``).

A citation names a rule by its id (``combination.diabetes_ckd``) and the guideline section it
implements (``I.A.15``); ``detail`` is a short sentence about codes, never note text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cac.codesets.records import System

Sex = Literal["male", "female", "other", "unknown"]


@dataclass(frozen=True, slots=True, repr=False)
class Demographics:
    """What coding rules may read about the patient: the age in whole years at the encounter and
    the administrative sex (FHIR ``Patient.gender``). Never logged: ``repr`` withholds both."""

    age: int | None = None
    sex: Sex | None = None

    def __repr__(self) -> str:
        return "Demographics(<withheld>)"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A span of the note that states a suggestion's concept.

    ``kind`` says how it states it: ``mention`` (the words name the concept), ``abbreviation``
    (an abbreviation of it), ``combination`` (one of the conditions a combination code joins).
    A suggestion with no evidence is ``inferred`` (:mod:`cac.coding.evidence`).
    """

    start: int
    end: int
    text: str
    kind: str = "mention"


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int
    text: str
    label: str
    assertion: str
    section: str | None
    codes: tuple[str, ...] = ()  # the shown codes whose evidence it is


@dataclass(frozen=True, slots=True)
class RuleCitation:
    """A coding rule that made or kept a suggestion: its id and guideline section."""

    rule: str
    section: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "section": self.section, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a candidate is not shown although the note supports it: the rule, its guideline
    section and the shown code that displaced it (None when no single code did, e.g. a
    non-billable node). A coder restores the code with one decision."""

    rule: str
    section: str
    code: str | None
    detail: str = ""

    def to_json(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "section": self.section,
            "code": self.code,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One code for one note. ``shown`` marks the list a coder signs; the rest are alternatives.

    ``rationale`` lists the rules behind a shown code; ``suppressed_by`` is set on a candidate
    the conventions stage kept from the shown list. ``alternatives`` are the billable codes a
    ``needs_specificity`` node can become.
    """

    system: System
    code: str
    description: str
    confidence: float
    evidence: tuple[Evidence, ...]
    assertion: str
    demo: bool
    needs_specificity: bool
    shown: bool
    rationale: tuple[RuleCitation, ...] = ()
    suppressed_by: Suppression | None = None
    alternatives: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape of one suggestion (README "Coding a note")."""
        return {
            "system": self.system.value,
            "code": self.code,
            "description": self.description,
            "confidence": round(self.confidence, 4),
            # a code no span states is "inferred": one entry without offsets
            "evidence": [
                {"start": e.start, "end": e.end, "text": e.text, "kind": e.kind}
                for e in self.evidence
            ]
            or [{"start": None, "end": None, "text": "", "kind": "inferred"}],
            "assertion": self.assertion,
            "demo": self.demo,
            "needs_specificity": self.needs_specificity,
            "shown": self.shown,
            "rationale": [r.to_json() for r in self.rationale],
            "suppressed_by": self.suppressed_by.to_json() if self.suppressed_by else None,
            "alternatives": list(self.alternatives),
        }
