"""A note's suggestions as a FHIR R4 ``Bundle`` (type ``collection``), built and validated with
the R4B models of ``fhir.resources`` (R4B changed none of the elements used here).

- each listed ICD-10-CM suggestion becomes a ``Condition`` (category ``encounter-diagnosis``),
  its ``verificationStatus`` ``provisional`` while undecided, ``confirmed`` once accepted or
  added, ``refuted`` when rejected; a replaced suggestion gives the replacement, ``confirmed``;
- each listed ICD-10-PCS, CPT or HCPCS suggestion becomes a ``Procedure``, its ``status``
  ``unknown`` while undecided, ``completed`` once accepted, added or replaced,
  ``entered-in-error`` when rejected;
- listed means shown to coders, added by one, or accepted or replaced by one (a restored code
  that a convention rule had kept back);
- ``subject`` and ``encounter`` are the note's references; a note without a patient reference
  has a ``subject`` with the ``data-absent-reason`` extension (``subject`` is required);
- the evidence, the confidence and the review status travel as cac's extensions
  (:mod:`cac.api.fhir.terms`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference

from cac.api.fhir import terms
from cac.api.schemas.decisions import EvidenceOut, SuggestionOut
from cac.api.schemas.notes import NoteOut
from cac.codesets.records import System

# (system, code) -> the code's title, or None when it is unknown
TitleLookup = Callable[[str, str], str | None]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cac:fhir")
_VERIFICATION = {
    "pending": "provisional",
    "accepted": "confirmed",
    "replaced": "confirmed",
    "rejected": "refuted",
}
_PROCEDURE_STATUS = {
    "pending": "unknown",
    "accepted": "completed",
    "replaced": "completed",
    "rejected": "entered-in-error",
}


def listed(s: SuggestionOut) -> bool:
    """The suggestions the Bundle carries (see the module docstring)."""
    return s.shown or s.origin == "coder" or s.status in ("accepted", "replaced")


def note_bundle(note: NoteOut, title: TitleLookup) -> Bundle:
    """The note's listed suggestions, one resource each, in the note's rank order.

    Args:
        note: The note as the API shows it.
        title: The display of a replacement code (a replaced suggestion stores only its code).
    """
    entries = []
    for s in note.suggestions:
        if not listed(s):
            continue
        resource = _resource(note, s, title)
        entries.append(
            BundleEntry(
                fullUrl=f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'suggestion/{s.id}')}",
                resource=resource,
            )
        )
    return Bundle(
        id=f"note-{note.id}",
        identifier=Identifier(system=terms.NOTE_ID, value=str(note.id)),
        type="collection",
        timestamp=note.created_at.isoformat(),
        entry=entries or None,
    )


def _final_code(s: SuggestionOut, title: TitleLookup) -> tuple[str, str, str | None]:
    """(system, code, display) after the coders' decision: a replacement's, else the code's."""
    if s.status == "replaced" and s.decision is not None and s.decision.code:
        system = s.decision.system or s.system
        return system, s.decision.code, title(system, s.decision.code)
    return s.system, s.code, s.description


def _coding(system: str, code: str, display: str | None) -> Coding:
    return Coding(system=terms.CODE_SYSTEMS[System(system)], code=code, display=display)


def _resource(note: NoteOut, s: SuggestionOut, title: TitleLookup) -> Condition | Procedure:
    system, code, display = _final_code(s, title)
    display = display or None  # FHIR strings are never empty
    common = {
        "id": f"suggestion-{s.id}",
        "identifier": [Identifier(system=terms.SUGGESTION_ID, value=str(s.id))],
        "extension": _extensions(s) or None,
        "code": CodeableConcept(
            coding=[_coding(system, code, display or None)], text=display or None
        ),
        "subject": _subject(note),
        "encounter": Reference(reference=note.encounter_ref) if note.encounter_ref else None,
    }
    if System(system) is System.ICD10CM:
        return Condition(
            **common,
            category=[
                CodeableConcept(
                    coding=[Coding(system=terms.CONDITION_CATEGORY, code="encounter-diagnosis")]
                )
            ],
            verificationStatus=CodeableConcept(
                coding=[Coding(system=terms.CONDITION_VERIFICATION, code=_VERIFICATION[s.status])]
            ),
        )
    return Procedure(**common, status=_PROCEDURE_STATUS[s.status])


def _subject(note: NoteOut) -> Reference:
    if note.patient_ref:
        return Reference(reference=note.patient_ref)
    return Reference(extension=[Extension(url=terms.DATA_ABSENT_REASON, valueCode="unknown")])


def _extensions(s: SuggestionOut) -> list[Extension]:
    out = [_evidence(e) for e in s.evidence]
    if s.confidence is not None:
        out.append(Extension(url=terms.CONFIDENCE, valueDecimal=Decimal(str(s.confidence))))
    review = [
        Extension(url="status", valueCode=s.status),
        Extension(url="origin", valueCode=s.origin),
    ]
    if s.status == "replaced":
        review.append(Extension(url="suggestedCode", valueCoding=_coding(s.system, s.code, None)))
    out.append(Extension(url=terms.REVIEW, extension=review))
    return out


def _evidence(e: EvidenceOut) -> Extension:
    parts = []
    if e.start is not None and e.end is not None:
        parts += [
            Extension(url="start", valueInteger=e.start),
            Extension(url="end", valueInteger=e.end),
            Extension(url="text", valueString=e.text),
        ]
    parts.append(Extension(url="kind", valueCode=e.kind))
    return Extension(url=terms.EVIDENCE, extension=parts)
