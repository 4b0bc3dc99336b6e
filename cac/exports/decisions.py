"""The decisions export (``cac-decisions/3``): one JSON record per reviewed note version.

A note version is exported when it has at least one decision (on a model suggestion or an added
code) made at or after ``since``; its record then carries the note's whole review as it stands:
every model suggestion (shown or not, decided or pending) and every coder-added code, each with
its complete decision chain. A later export with a later ``since`` repeats a note whose review
went on, so consumers keep the last record per ``note_id``.

Note text goes out only on request, and each note whose text goes out gets a
``note.text_exported`` audit event (export id, format, channel; never the text), written before
the records of its batch are handed over. Records are read in batches of notes, in note id
order, each batch in its own short read transaction.

Each record carries the note's ``impact`` (principal, MS-DRG with CC/MCC per code, CMS-HCC with
RAF, prompts) in the shape of the API's ``impact`` (:class:`~cac.api.schemas.impact.ImpactOut`),
computed by the shared :class:`~cac.impact.ImpactEngine` from the codes in effect
(:mod:`cac.impact.notes`: what ``GET /v1/notes/{id}`` shows), with the coder's principal and the
note's age and sex. It is null when the note has no ICD-10-CM code in effect, or when the export
runs without an engine (the service's impact packages failed to load).

The JSON Schema of a record ships as ``cac/exports/schema/decisions-v3.schema.json``; a change to
the record's fields is a new format version with a new schema file. Version 2 added to each model
suggestion why the pipeline showed it or kept it back (``rationale``, ``suppressed_by``), its
``alternatives`` and the kind of each evidence span, and to each decision whether it restored a
suppressed code (``restored_suppressed``, ``restored_rule``); version 3 added ``impact``, whose
schema is the API's. Records of versions 1 and 2 (``decisions-v1.schema.json``,
``decisions-v2.schema.json``) still read: the added fields take their empty defaults.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cac.api.schemas.impact import ImpactOut
from cac.db import audit
from cac.db.decisions import restored_rule
from cac.db.engine import Database
from cac.db.models import Decision, Note, Suggestion
from cac.errors import CacError
from cac.impact import ImpactEngine
from cac.impact.notes import note_request

logger = logging.getLogger(__name__)

FORMAT: Final = "cac-decisions/3"
SCHEMA_FILE = "decisions-v3.schema.json"
# Every format this cac reads, with its schema file; it writes FORMAT.
SCHEMA_FILES: Final = {
    "cac-decisions/1": "decisions-v1.schema.json",
    "cac-decisions/2": "decisions-v2.schema.json",
    FORMAT: SCHEMA_FILE,
}
BATCH_NOTES = 200


class ExportRequestError(CacError):
    """An export request that cannot run as asked (e.g. an unreadable ``since``)."""


def parse_since(value: str) -> datetime:
    """``2026-11-27`` (midnight UTC) or an ISO 8601 time; a time without offset is UTC.

    Raises:
        ExportRequestError: for anything else.
    """
    text = value.strip()
    try:
        parsed = (
            datetime.combine(date.fromisoformat(text), datetime.min.time())
            if len(text) == 10
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise ExportRequestError(
            f"since must be a date like 2026-11-27 or an ISO 8601 time like "
            f"2026-11-27T10:00:00Z; got {value!r}"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ExportedDecision(BaseModel):
    """One decision of a chain; the last of a chain is the active one."""

    model_config = ConfigDict(frozen=True)

    id: int
    sequence: int
    action: Literal["accept", "reject", "replace", "add"]
    final_system: str | None
    final_code: str | None
    coder: str
    created_at: datetime
    reason: str | None
    supersedes: int | None
    restored_suppressed: bool = Field(
        default=False,
        description="An accept of a suggestion a convention rule had kept out of the shown list.",
    )
    restored_rule: str | None = Field(
        default=None, description="The rule the restore overrode (its suggestion's suppressed_by)."
    )


class ExportedCitation(BaseModel):
    """A coding rule behind a shown suggestion (``cac.coding.records.RuleCitation``)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    section: str
    detail: str = ""


class ExportedSuppression(BaseModel):
    """Why the pipeline kept a suggestion out of the shown list (``Suppression``)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    section: str
    code: str | None
    detail: str = ""


class ExportedSuggestion(BaseModel):
    """A code the model proposed, as stored and shown, with its decisions."""

    model_config = ConfigDict(frozen=True)

    id: int
    rank: int
    system: str
    code: str
    description: str
    confidence: float | None
    shown: bool
    model_version: str | None
    assertion: str | None
    needs_specificity: bool
    evidence: list[tuple[int, int]]
    # Added in cac-decisions/2; a version 1 record reads with these empty.
    evidence_kinds: list[str] = Field(default_factory=list)
    rationale: list[ExportedCitation] = Field(default_factory=list)
    suppressed_by: ExportedSuppression | None = None
    alternatives: list[str] = Field(default_factory=list)
    status: Literal["pending", "accepted", "rejected", "replaced"]
    decisions: list[ExportedDecision]


class ExportedAddedCode(BaseModel):
    """A code a coder added to the note (the model missed it), with its decisions."""

    model_config = ConfigDict(frozen=True)

    id: int
    system: str
    code: str
    description: str
    evidence: list[tuple[int, int]]
    status: Literal["pending", "accepted", "rejected", "replaced"]
    decisions: list[ExportedDecision]


class NoteRecord(BaseModel):
    """One line of the export: a note version and its review."""

    model_config = ConfigDict(frozen=True)

    format: Literal["cac-decisions/1", "cac-decisions/2", "cac-decisions/3"] = FORMAT
    export_id: str
    note_id: int
    external_id: str
    version: int
    setting: str
    created_at: datetime
    text_sha256: str = Field(description="SHA-256 of the UTF-8 note text.")
    model: dict[str, Any]
    suggestions: list[ExportedSuggestion]
    added: list[ExportedAddedCode]
    # Added in cac-decisions/3; a version 1 or 2 record reads with none.
    impact: ImpactOut | None = None
    text: str | None = None

    def to_json(self) -> str:
        """The record as one JSON line (no newline); ``text`` only when it was included."""
        return self.model_dump_json(exclude={"text"} if self.text is None else None)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export and who asked (the actor of the text audit events)."""

    actor: str
    via: Literal["api", "cli"]
    since: datetime | None = None
    include_text: bool = False
    request_id: str | None = None
    export_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@cache
def schema(record_format: str = FORMAT) -> dict[str, Any]:
    """The JSON Schema of a record of ``record_format`` (by default the one this cac writes).

    Raises:
        KeyError: for a format this cac does not know.
    """
    source = resources.files("cac.exports").joinpath("schema", SCHEMA_FILES[record_format])
    loaded: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return loaded


def count_notes(db: Database, since: datetime | None) -> int:
    """How many note versions an export from ``since`` holds (for progress display)."""
    query = select(func.count(func.distinct(Decision.note_id)))
    if since is not None:
        query = query.where(Decision.created_at >= _as_utc(since))
    with db.read() as session:
        return session.scalar(query) or 0


def stream(
    db: Database,
    request: ExportRequest,
    batch: int = BATCH_NOTES,
    *,
    engine: ImpactEngine | None = None,
) -> Iterator[NoteRecord]:
    """The records of the export, in note id order, read ``batch`` notes at a time.

    Args:
        engine: computes each record's ``impact`` (loaded once by the caller); None leaves it
            null.
    """
    after, exported = 0, 0
    while True:
        with db.read() as session:
            records = _read_batch(session, request, after, batch, engine)
        if not records:
            break
        if request.include_text:
            _audit_text(db, request, records)
        yield from records
        exported += len(records)
        after = records[-1].note_id
    logger.info(
        "decisions export %s done: %d notes, include_text=%s, via %s, by %s",
        request.export_id,
        exported,
        request.include_text,
        request.via,
        request.actor,
    )


def _read_batch(
    session: Session,
    request: ExportRequest,
    after: int,
    limit: int,
    engine: ImpactEngine | None,
) -> list[NoteRecord]:
    ids_query = select(Decision.note_id).where(Decision.note_id > after)
    if request.since is not None:
        ids_query = ids_query.where(Decision.created_at >= _as_utc(request.since))
    ids = list(
        session.scalars(
            ids_query.group_by(Decision.note_id).order_by(Decision.note_id).limit(limit)
        )
    )
    if not ids:
        return []
    notes = session.scalars(select(Note).where(Note.id.in_(ids)).order_by(Note.id))
    suggestions: dict[int, list[Suggestion]] = defaultdict(list)
    for s in session.scalars(
        select(Suggestion).where(Suggestion.note_id.in_(ids)).order_by(Suggestion.rank)
    ):
        suggestions[s.note_id].append(s)
    chains: dict[int, list[Decision]] = defaultdict(list)
    for d in session.scalars(
        select(Decision).where(Decision.note_id.in_(ids)).order_by(Decision.sequence)
    ):
        chains[d.suggestion_id].append(d)
    return [
        _record(
            request, n, suggestions[n.id], chains, _impact(engine, n, suggestions[n.id], chains)
        )
        for n in notes
    ]


def _impact(
    engine: ImpactEngine | None,
    note: Note,
    suggestions: Sequence[Suggestion],
    chains: dict[int, list[Decision]],
) -> ImpactOut | None:
    """The note's impact from the rows read (no further query), as the API shows it."""
    if engine is None:
        return None
    active = {s.id: chains[s.id][-1] for s in suggestions if chains.get(s.id)}
    impact_request = note_request(note, suggestions, active)
    if not impact_request.diagnoses:
        return None
    return ImpactOut.of(engine.assess(impact_request))


def _record(
    request: ExportRequest,
    note: Note,
    suggestions: Sequence[Suggestion],
    chains: dict[int, list[Decision]],
    impact: ImpactOut | None,
) -> NoteRecord:
    return NoteRecord(
        export_id=request.export_id,
        note_id=note.id,
        external_id=note.external_id,
        version=note.version,
        setting=note.setting,
        created_at=_utc(note.created_at),
        text_sha256=hashlib.sha256(note.text.encode("utf-8")).hexdigest(),
        model=dict(note.model),
        suggestions=[
            ExportedSuggestion(
                id=s.id,
                rank=s.rank,
                system=s.system,
                code=s.code,
                description=s.description,
                confidence=s.confidence,
                shown=s.shown,
                model_version=s.model_version,
                assertion=s.assertion,
                needs_specificity=s.needs_specificity,
                evidence=_spans(s.evidence),
                evidence_kinds=_kinds(s),
                rationale=[ExportedCitation.model_validate(r) for r in s.rationale or []],
                suppressed_by=(
                    ExportedSuppression.model_validate(s.suppressed_by) if s.suppressed_by else None
                ),
                alternatives=[str(c) for c in s.alternatives or []],
                status=s.status,
                decisions=_chain(s, chains.get(s.id, [])),
            )
            for s in suggestions
            if s.origin == "model"
        ],
        added=[
            ExportedAddedCode(
                id=s.id,
                system=s.system,
                code=s.code,
                description=s.description,
                evidence=_spans(s.evidence),
                status=s.status,
                decisions=_chain(s, chains.get(s.id, [])),
            )
            for s in suggestions
            if s.origin != "model"
        ],
        impact=impact,
        text=note.text if request.include_text else None,
    )


def _chain(suggestion: Suggestion, decisions: Sequence[Decision]) -> list[ExportedDecision]:
    out = []
    for d in decisions:
        if d.action == "accept":
            final: tuple[str | None, str | None] = (suggestion.system, suggestion.code)
        elif d.action == "reject":
            final = (None, None)
        else:  # replace and add name their code
            final = (d.system, d.code)
        restored = restored_rule(suggestion, d.action)
        out.append(
            ExportedDecision(
                id=d.id,
                sequence=d.sequence,
                action=d.action,
                final_system=final[0],
                final_code=final[1],
                coder=d.coder,
                created_at=_utc(d.created_at),
                reason=d.reason,
                supersedes=d.supersedes_id,
                restored_suppressed=restored is not None,
                restored_rule=restored,
            )
        )
    return out


def _kinds(suggestion: Suggestion) -> list[str]:
    """One kind per evidence span; spans stored without one (before migration 0002) are
    mentions."""
    kinds = [str(k) for k in suggestion.evidence_kinds or []]
    return [kinds[i] if i < len(kinds) else "mention" for i in range(len(suggestion.evidence))]


def _spans(evidence: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    return [(int(start), int(end)) for start, end in evidence]


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _as_utc(value: datetime) -> datetime:
    # SQLite stores the wall time without its offset, so compare in UTC on every backend.
    return _utc(value).astimezone(UTC)


def _audit_text(db: Database, request: ExportRequest, records: Sequence[NoteRecord]) -> None:
    """One ``note.text_exported`` event per note whose text is about to go out."""
    details = {"export_id": request.export_id, "format": FORMAT, "via": request.via}
    with db.write() as session:
        for record in records:
            audit.append(
                session,
                record.note_id,
                audit.AuditAction.NOTE_TEXT_EXPORTED,
                request.actor,
                details=dict(details),
                request_id=request.request_id,
            )
