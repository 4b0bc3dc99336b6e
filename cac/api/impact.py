"""Impact for the service: a what-if code list checked against the knowledge base, and a stored
note's codes in effect turned into an :class:`~cac.impact.records.ImpactRequest`.

The codes in effect (:mod:`cac.impact.notes`) are what a coder would sign out now, so accepting
an alternative, rejecting a code or replacing it changes the impact at once.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cac.api.errors import InvalidInput
from cac.api.metrics import Metrics
from cac.api.schemas.impact import ImpactIn, ImpactOut
from cac.coding.records import Demographics, Sex
from cac.db import audit, decisions, notes
from cac.db.models import Note
from cac.impact import Impact, ImpactEngine, ImpactRequest
from cac.impact import notes as stored
from cac.kb.store import KnowledgeBase

_SEX: dict[str, Sex] = {"F": "female", "M": "male", "female": "female", "male": "male"}


def what_if(kb: KnowledgeBase, body: ImpactIn) -> ImpactRequest:
    """A ``POST /v1/impact`` body as a request, every code checked.

    Raises:
        InvalidInput: naming the first code that is unknown, terminated or not billable.
    """
    from cac.api.services import resolve_code

    dx = tuple(resolve_code(kb, "icd10cm", c).display for c in body.codes)
    pcs = tuple(resolve_code(kb, "icd10pcs", c).display for c in body.pcs)
    people = None
    if body.age is not None or body.sex is not None:
        people = Demographics(age=body.age, sex=_SEX[body.sex] if body.sex else None)
    return ImpactRequest(dx, pcs, body.setting, people, principal_fixed=True)


def codes_in_effect(session: Session, note: Note) -> list[tuple[str, str]]:
    """``(system, code)`` in rank order: decided codes and undecided shown ones."""
    active = decisions.active_by_suggestion(session, note.id)
    return stored.codes_in_effect(notes.suggestions(session, note.id), active)


def note_request(session: Session, note: Note) -> ImpactRequest:
    """What a stored note's codes in effect are asked about; a coder's principal goes first."""
    active = decisions.active_by_suggestion(session, note.id)
    return stored.note_request(note, notes.suggestions(session, note.id), active)


def note_impact(session: Session, note: Note, engine: ImpactEngine) -> Impact | None:
    """The note's impact, or None when it has no ICD-10-CM code in effect."""
    request = note_request(session, note)
    return engine.assess(request) if request.diagnoses else None


def impact_out(impact: Impact | None) -> ImpactOut | None:
    return ImpactOut.of(impact) if impact is not None else None


def check_principal(session: Session, note: Note, code: str) -> str:
    """The code as the note holds it, if it is one of the note's ICD-10-CM codes in effect.

    Raises:
        InvalidInput: naming the codes that may be chosen.
    """
    wanted = code.replace(".", "").strip().upper()
    dx = [c for system, c in codes_in_effect(session, note) if system == "icd10cm"]
    for candidate in dx:
        if candidate.replace(".", "").upper() == wanted:
            return candidate
    raise InvalidInput(
        f"{code.strip()[:16]} is not one of note {note.id}'s ICD-10-CM codes in effect "
        f"({', '.join(dx) or 'none'}); accept or add it first"
    )


def record_change(
    session: Session,
    note: Note,
    engine: ImpactEngine,
    before: Impact | None,
    actor: str,
    request_id: str | None,
    *,
    cause: str,
    suggestion_id: int | None = None,
    decision_id: int | None = None,
) -> Impact | None:
    """Recompute the note's impact after a change in the session and audit before and after
    (codes and figures only). Returns the new impact."""
    session.flush()
    after = note_impact(session, note, engine)
    audit.append(
        session,
        note.id,
        audit.AuditAction.IMPACT_RECOMPUTED,
        actor,
        suggestion_id=suggestion_id,
        decision_id=decision_id,
        details={
            "cause": cause,
            "before": before.summary() if before else None,
            "after": after.summary() if after else None,
        },
        request_id=request_id,
    )
    return after


def count_change(metrics: Metrics, before: Impact | None, after: Impact | None) -> None:
    """Count DRG shifts and HCCs captured or removed (numbers only, never codes or text)."""
    old_drg = before.drg if before else None
    new_drg = after.drg if after else None
    if (old_drg.code if old_drg else None) != (new_drg.code if new_drg else None):
        old_w = (old_drg.weight if old_drg else None) or 0.0
        new_w = (new_drg.weight if new_drg else None) or 0.0
        direction = "up" if new_w > old_w else "down" if new_w < old_w else "same"
        metrics.drg_shifts.labels(direction).inc()
    old_hccs = set(before.hcc.hcc_codes) if before else set()
    new_hccs = set(after.hcc.hcc_codes) if after else set()
    if new_hccs - old_hccs:
        metrics.hccs_captured.inc(len(new_hccs - old_hccs))
    if old_hccs - new_hccs:
        metrics.hccs_removed.inc(len(old_hccs - new_hccs))
