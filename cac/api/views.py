"""Stored rows to response schemas. Evidence text is cut from the stored note by offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.orm import Session

from cac.api.impact import impact_out, note_impact
from cac.api.schemas.decisions import (
    AuditEventOut,
    DecisionExport,
    DecisionOut,
    EvidenceOut,
    RuleCitationOut,
    SuggestionOut,
    SuppressionOut,
)
from cac.api.schemas.notes import FinalCode, NoteDetailOut, NoteOut, NoteVersion
from cac.db import audit, decisions, notes
from cac.db.decisions import restored_rule
from cac.db.models import AuditEvent, Decision, Note, Suggestion
from cac.impact import ImpactEngine


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def decision_out(d: Decision) -> DecisionOut:
    return DecisionOut(
        id=d.id,
        suggestion_id=d.suggestion_id,
        note_id=d.note_id,
        sequence=d.sequence,
        action=d.action,
        system=d.system,
        code=d.code,
        reason=d.reason,
        coder=d.coder,
        supersedes=d.supersedes_id,
        created_at=utc(d.created_at),
    )


def evidence_kind(s: Suggestion, index: int) -> Literal["mention", "abbreviation", "combination"]:
    """The kind of a stored evidence span; spans stored without one are mentions."""
    kinds = s.evidence_kinds or []
    kind = str(kinds[index]) if index < len(kinds) else "mention"
    if kind == "abbreviation":
        return "abbreviation"
    if kind == "combination":
        return "combination"
    return "mention"


def inferred(s: Suggestion) -> list[EvidenceOut]:
    """A model's code stored without evidence: one ``inferred`` entry (no words state it)."""
    if s.origin != "model":
        return []
    return [EvidenceOut(start=None, end=None, text="", kind="inferred")]


def rationale_out(s: Suggestion) -> list[RuleCitationOut]:
    return [RuleCitationOut.model_validate(r) for r in s.rationale or []]


def suppression_out(s: Suggestion) -> SuppressionOut | None:
    return SuppressionOut.model_validate(s.suppressed_by) if s.suppressed_by else None


def suggestion_out(s: Suggestion, text: str, decision: Decision | None) -> SuggestionOut:
    return SuggestionOut(
        id=s.id,
        note_id=s.note_id,
        system=s.system,
        code=s.code,
        description=s.description,
        confidence=s.confidence,
        evidence=[
            EvidenceOut(start=a, end=b, text=text[a:b], kind=evidence_kind(s, i))
            for i, (a, b) in enumerate(s.evidence)
        ]
        or inferred(s),
        assertion=s.assertion,
        demo=s.demo,
        needs_specificity=s.needs_specificity,
        shown=s.shown,
        rationale=rationale_out(s),
        suppressed_by=suppression_out(s),
        alternatives=[str(c) for c in s.alternatives or []],
        origin=s.origin,
        status=s.status,
        model_version=s.model_version,
        decision=decision_out(decision) if decision is not None else None,
    )


def suggestion_list(session: Session, note: Note) -> list[SuggestionOut]:
    active = decisions.active_by_suggestion(session, note.id)
    return [
        suggestion_out(s, note.text, active.get(s.id)) for s in notes.suggestions(session, note.id)
    ]


def _final_codes(suggestions: list[SuggestionOut]) -> list[FinalCode]:
    final = []
    for s in suggestions:
        if s.status == "accepted":
            final.append(FinalCode(system=s.system, code=s.code, suggestion_id=s.id))
        elif s.status == "replaced" and s.decision and s.decision.code and s.decision.system:
            final.append(
                FinalCode(system=s.decision.system, code=s.decision.code, suggestion_id=s.id)
            )
    return final


def note_out(
    session: Session,
    note: Note,
    *,
    with_text: bool = False,
    engine: ImpactEngine | None = None,
) -> NoteOut:
    """The note as the API shows it; with ``engine``, its impact recomputed from the codes in
    effect now."""
    suggestions = suggestion_list(session, note)
    fields = {
        "id": note.id,
        "external_id": note.external_id,
        "version": note.version,
        "setting": note.setting,
        "patient_ref": note.patient_ref,
        "encounter_ref": note.encounter_ref,
        "patient_age": note.patient_age,
        "patient_sex": note.patient_sex,
        "source": note.source,
        "created_by": note.created_by,
        "created_at": utc(note.created_at),
        "model": note.model,
        "versions": [
            NoteVersion(id=v.id, version=v.version, created_at=utc(v.created_at))
            for v in notes.versions(session, note.external_id)
        ],
        "suggestions": suggestions,
        "final_codes": _final_codes(suggestions),
        "impact": impact_out(note_impact(session, note, engine)) if engine else None,
    }
    if with_text:
        return NoteDetailOut(**fields, text=note.text)
    return NoteOut(**fields)


def audit_out(events: list[AuditEvent]) -> list[AuditEventOut]:
    return [
        AuditEventOut(
            id=e.id,
            at=utc(e.created_at),
            action=e.action,
            actor=e.actor,
            suggestion_id=e.suggestion_id,
            decision_id=e.decision_id,
            details=e.details,
            request_id=e.request_id,
        )
        for e in events
    ]


def history(session: Session, note_id: int) -> list[AuditEventOut]:
    notes.get_note(session, note_id)
    return audit_out(audit.history(session, note_id))


def export_row(d: Decision, s: Suggestion, note: Note) -> DecisionExport:
    return DecisionExport(
        **decision_out(d).model_dump(),
        suggestion_system=s.system,
        suggestion_code=s.code,
        suggestion_origin=s.origin,
        suggestion_rationale=rationale_out(s),
        suggestion_suppressed_by=suppression_out(s),
        restored_suppressed=restored_rule(s, d.action) is not None,
        model_version=s.model_version,
        external_id=note.external_id,
        note_version=note.version,
    )
