"""The coders' worklist: the newest version of each note, with its shown codes and how many of
them still wait for a decision, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from cac.db.models import Note, Suggestion

Status = Literal["pending", "done", "all"]


@dataclass(frozen=True, slots=True)
class WorklistFilter:
    """``status``: notes with a shown code awaiting a decision (``pending``), notes whose shown
    codes are all decided (``done``), or both (``all``)."""

    setting: str | None = None
    system: str | None = None
    status: Status = "pending"
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True, slots=True)
class ShownCode:
    system: str
    code: str
    status: str


@dataclass(frozen=True, slots=True)
class WorklistRow:
    note_id: int
    external_id: str
    version: int
    setting: str
    created_at: datetime
    pending: int
    codes: tuple[ShownCode, ...]


@dataclass(frozen=True, slots=True)
class WorklistPage:
    rows: tuple[WorklistRow, ...]
    total: int
    page: int
    pages: int


def _query(f: WorklistFilter) -> Select[int, str, int, str, datetime, Any]:
    latest = (
        select(Note.external_id, func.max(Note.version).label("version"))
        .group_by(Note.external_id)
        .subquery()
    )
    pending = func.coalesce(func.sum(case((Suggestion.status == "pending", 1), else_=0)), 0).label(
        "pending"
    )
    query = (
        select(Note.id, Note.external_id, Note.version, Note.setting, Note.created_at, pending)
        .join(
            latest,
            and_(Note.external_id == latest.c.external_id, Note.version == latest.c.version),
        )
        .outerjoin(Suggestion, and_(Suggestion.note_id == Note.id, Suggestion.shown.is_(True)))
        .group_by(Note.id, Note.external_id, Note.version, Note.setting, Note.created_at)
    )
    if f.setting:
        query = query.where(Note.setting == f.setting)
    if f.system:
        with_system = select(Suggestion.note_id).where(
            Suggestion.system == f.system, Suggestion.shown.is_(True)
        )
        query = query.where(Note.id.in_(with_system))
    if f.status == "pending":
        query = query.having(pending > 0)
    elif f.status == "done":
        query = query.having(pending == 0)
    return query


def worklist(session: Session, f: WorklistFilter) -> WorklistPage:
    """One page of the worklist, oldest note first."""
    query = _query(f)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // f.per_page))
    page = min(max(1, f.page), pages)
    rows = session.execute(
        query.order_by(Note.created_at, Note.id).limit(f.per_page).offset((page - 1) * f.per_page)
    ).all()
    ids = [row[0] for row in rows]
    codes: dict[int, list[ShownCode]] = {i: [] for i in ids}
    if ids:
        shown = session.execute(
            select(Suggestion.note_id, Suggestion.system, Suggestion.code, Suggestion.status)
            .where(Suggestion.note_id.in_(ids), Suggestion.shown.is_(True))
            .order_by(Suggestion.note_id, Suggestion.rank, Suggestion.id)
        )
        for note_id, system, code, status in shown:
            codes[note_id].append(ShownCode(system, code, status))
    return WorklistPage(
        rows=tuple(
            WorklistRow(
                note_id=r[0],
                external_id=r[1],
                version=r[2],
                setting=r[3],
                created_at=r[4],
                pending=int(r[5]),
                codes=tuple(codes[r[0]]),
            )
            for r in rows
        ),
        total=total,
        page=page,
        pages=pages,
    )
