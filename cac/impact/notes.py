"""A stored note's codes in effect as an :class:`~cac.impact.records.ImpactRequest`: the one
definition the API (``impact`` on notes, the audit before/after) and the decisions export share.

The codes in effect are what a coder would sign out now: accepted codes, replacements, codes
added, and shown suggestions not yet decided; rejected codes and unshown alternatives are out.
A coder's principal (``Note.principal_code``) goes first and is marked decided. These functions
take rows already read, so a caller that reads many notes at once asks the database nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cac.coding.records import Demographics
from cac.db.models import Decision, Note, Suggestion
from cac.impact.records import ImpactRequest


def codes_in_effect(
    suggestions: Iterable[Suggestion], active: Mapping[int, Decision]
) -> list[tuple[str, str]]:
    """``(system, code)`` in the order given (rank order): decided codes and undecided shown ones.

    Args:
        suggestions: the note's suggestions (model and coder-added), in rank order.
        active: the active (last) decision of each decided suggestion, by suggestion id.
    """
    out: list[tuple[str, str]] = []
    for s in suggestions:
        decision = active.get(s.id)
        if s.status == "accepted" or (s.status == "pending" and s.shown):
            out.append((s.system, s.code))
        elif s.status == "replaced" and decision is not None and decision.code:
            out.append((decision.system or s.system, decision.code))
    return list(dict.fromkeys(out))


def note_request(
    note: Note, suggestions: Iterable[Suggestion], active: Mapping[int, Decision]
) -> ImpactRequest:
    """What a stored note's codes in effect are asked about; a coder's principal goes first."""
    effect = codes_in_effect(suggestions, active)
    dx = [code for system, code in effect if system == "icd10cm"]
    pcs = tuple(code for system, code in effect if system == "icd10pcs")
    fixed = note.principal_code is not None and note.principal_code in dx
    if fixed:
        dx.remove(str(note.principal_code))
        dx.insert(0, str(note.principal_code))
    people = None
    if note.patient_age is not None or note.patient_sex is not None:
        sex: Any = note.patient_sex
        people = Demographics(age=note.patient_age, sex=sex)
    return ImpactRequest(
        tuple(dx),
        pcs,
        "outpatient" if note.setting == "outpatient" else "inpatient",
        people,
        principal_fixed=fixed,
        principal_reason=f"chosen by coder {note.principal_set_by}" if fixed else None,
    )
