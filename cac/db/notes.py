"""Notes and their suggestions: versions by external id, storing a coded note, reading it back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cac.db import audit
from cac.db.models import Note, Suggestion
from cac.errors import NotFoundError
from cac.pipeline import CodingResult, Demographics


@dataclass(frozen=True, slots=True)
class NoteInput:
    """A validated note as the API received it (plain JSON or FHIR)."""

    external_id: str
    text: str
    setting: str
    patient_ref: str | None = None
    encounter_ref: str | None = None
    source: str = "json"
    demographics: Demographics | None = None

    @property
    def content_hash(self) -> str:
        """What decides that a re-post is the same note: the text, the setting and, when the
        sender gave them, the patient's age and sex."""
        key = f"{self.setting}\n{self.text}"
        if self.demographics is not None:
            key += f"\n{self.demographics.age}\n{self.demographics.sex}"
        return hashlib.sha256(key.encode()).hexdigest()


def latest_version(session: Session, external_id: str) -> Note | None:
    """The newest stored version of an external id."""
    return session.scalar(
        select(Note).where(Note.external_id == external_id).order_by(Note.version.desc()).limit(1)
    )


def versions(session: Session, external_id: str) -> list[Note]:
    """Every version of an external id, oldest first."""
    return list(
        session.scalars(select(Note).where(Note.external_id == external_id).order_by(Note.version))
    )


def store_coded_note(
    session: Session,
    note: NoteInput,
    result: CodingResult,
    actor: str,
    request_id: str | None = None,
) -> Note:
    """Add a new version of ``note`` with the coder's suggestions, and its audit events."""
    current = session.scalar(
        select(func.max(Note.version)).where(Note.external_id == note.external_id)
    )
    model_version = _model_version(result)
    row = Note(
        external_id=note.external_id,
        version=(current or 0) + 1,
        text=note.text,
        text_sha256=note.content_hash,
        setting=note.setting,
        patient_ref=note.patient_ref,
        encounter_ref=note.encounter_ref,
        patient_age=note.demographics.age if note.demographics else None,
        patient_sex=note.demographics.sex if note.demographics else None,
        source=note.source,
        model=dict(result.model),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    for rank, s in enumerate(result.suggestions):
        session.add(
            Suggestion(
                note_id=row.id,
                rank=rank,
                system=s.system.value,
                code=s.code,
                description=s.description,
                confidence=round(float(s.confidence), 4),
                evidence=[[e.start, e.end] for e in s.evidence],
                evidence_kinds=[e.kind for e in s.evidence],
                assertion=s.assertion,
                demo=s.demo,
                needs_specificity=s.needs_specificity,
                shown=s.shown,
                rationale=[r.to_json() for r in s.rationale],
                suppressed_by=s.suppressed_by.to_json() if s.suppressed_by else None,
                alternatives=list(s.alternatives),
                origin="model",
                model_version=model_version,
                status="pending",
            )
        )
    details = {"external_id": note.external_id, "version": row.version, "source": note.source}
    details["setting"] = note.setting
    audit.append(
        session,
        row.id,
        audit.AuditAction.NOTE_CREATED,
        actor,
        details=details,
        request_id=request_id,
    )
    audit.append(
        session,
        row.id,
        audit.AuditAction.NOTE_CODED,
        actor,
        details={"suggestions": len(result.suggestions), "model": dict(result.model)},
        request_id=request_id,
    )
    session.flush()
    return row


def record_repost(session: Session, note: Note, actor: str, request_id: str | None) -> None:
    """Note in the audit that the same note was posted again (and nothing else changed)."""
    audit.append(
        session,
        note.id,
        audit.AuditAction.NOTE_REPOSTED,
        actor,
        details={"external_id": note.external_id, "version": note.version},
        request_id=request_id,
    )


def get_note(session: Session, note_id: int) -> Note:
    """Raises: NotFoundError."""
    note = session.get(Note, note_id)
    if note is None:
        raise NotFoundError(f"no note with id {note_id}")
    return note


def suggestions(session: Session, note_id: int) -> list[Suggestion]:
    """A note's suggestions in rank order (model suggestions first, then coder-added codes)."""
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.note_id == note_id)
            .order_by(Suggestion.rank, Suggestion.id)
        )
    )


# What identifies the models that made a suggestion, most telling first: the 100 characters a
# suggestion stores must name the ranker and tagger versions (the note keeps the whole dict).
_VERSION_KEYS = ("ranker", "ranker_source", "mention_model", "mention_model_source", "kb")


def _model_version(result: CodingResult) -> str:
    model = result.model
    keys = [k for k in _VERSION_KEYS if k in model]
    keys += sorted(k for k in model if k not in _VERSION_KEYS and k != "pipeline")
    parts = [str(model["pipeline"])] if "pipeline" in model else []
    parts += [f"{k}={model[k]}" for k in keys]
    return ";".join(parts)[:100] or "unknown"
