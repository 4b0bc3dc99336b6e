"""SQLite layout of the knowledge base and the CodeRecord <-> row mapping."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from cac.codesets.records import CodeRecord, System

DDL = """
CREATE TABLE codes (
    system TEXT NOT NULL,
    code TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    billable INTEGER NOT NULL,
    active INTEGER NOT NULL,
    parent TEXT,
    demo INTEGER NOT NULL,
    notes TEXT NOT NULL,
    PRIMARY KEY (system, code)
) WITHOUT ROWID;
CREATE INDEX codes_parent ON codes (system, parent);
"""

_LIST_FIELDS = (
    "synonyms",
    "excludes1",
    "excludes2",
    "code_first",
    "use_additional",
    "code_also",
)


def to_row(record: CodeRecord) -> tuple[Any, ...]:
    """A record as a row of ``codes``; list-valued fields go to one JSON column."""
    notes: dict[str, Any] = {
        f: list(getattr(record, f)) for f in _LIST_FIELDS if getattr(record, f)
    }
    if record.axes:
        notes["axes"] = [list(pair) for pair in record.axes]
    if record.attributes:
        notes["attributes"] = [list(pair) for pair in record.attributes]
    return (
        record.system.value,
        record.code,
        record.title,
        record.kind,
        int(record.billable),
        int(record.active),
        record.parent,
        int(record.demo),
        json.dumps(notes, ensure_ascii=False, separators=(",", ":")),
    )


def from_row(row: sqlite3.Row | tuple[Any, ...]) -> CodeRecord:
    """Inverse of :func:`to_row`."""
    system, code, title, kind, billable, active, parent, demo, notes_json = tuple(row)
    notes = json.loads(notes_json)
    return CodeRecord(
        system=System(system),
        code=code,
        title=title,
        kind=kind,
        billable=bool(billable),
        active=bool(active),
        parent=parent,
        demo=bool(demo),
        axes=tuple((k, v) for k, v in notes.get("axes", [])),
        attributes=tuple((k, v) for k, v in notes.get("attributes", [])),
        **{f: tuple(notes.get(f, [])) for f in _LIST_FIELDS},
    )


COLUMNS = "system, code, title, kind, billable, active, parent, demo, notes"
