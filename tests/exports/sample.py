"""A small reviewed database for the export tests, written through the db layer (no HTTP).

Note A has every kind of decision; note B was coded but never reviewed; note C is reviewed
after ``Reviewed.boundary``, so an export ``since`` the boundary holds C alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from cac.db import decisions
from cac.db.decisions import Action, AddedCode, DecisionInput
from cac.db.engine import Database
from cac.db.models import Note, Suggestion
from cac.db.notes import NoteInput, store_coded_note
from tests.api.conftest import FakeCoder, note_text

TEXT_A = note_text("Pneumonia, diabetes and hypertension.")
TEXT_B = note_text("Headache.")
TEXT_C = note_text("Given crutches.")


@dataclass(frozen=True)
class Reviewed:
    a: int
    b: int
    c: int
    boundary: datetime  # after A's decisions, before C's


def _store(db: Database, external_id: str, text: str) -> tuple[int, dict[str, int]]:
    with db.write() as session:
        note = store_coded_note(
            session,
            NoteInput(external_id=external_id, text=text, setting="inpatient"),
            FakeCoder().code(text),
            actor="ehr-key",
        )
        rows = session.scalars(select(Suggestion).where(Suggestion.note_id == note.id))
        ids = {s.code: s.id for s in rows}
        return note.id, ids


def _decide(db: Database, suggestion_id: int, decision: DecisionInput) -> None:
    with db.write() as session:
        decisions.decide(session, suggestion_id, decision)


def populate(db: Database) -> Reviewed:
    a, a_ids = _store(db, "enc-1/dc", TEXT_A)
    b, _ = _store(db, "enc-2/dc", TEXT_B)
    c, c_ids = _store(db, "enc-3/dc", TEXT_C)
    _decide(db, a_ids["J18.9"], DecisionInput(Action.ACCEPT, "coder-jane"))
    _decide(db, a_ids["E11.9"], DecisionInput(Action.REJECT, "coder-jane", reason="not sure"))
    _decide(
        db,
        a_ids["E11.9"],
        DecisionInput(Action.ACCEPT, "coder-ann", reason="second look", supersede=True),
    )
    _decide(
        db,
        a_ids["I10"],
        DecisionInput(Action.REPLACE, "coder-jane", system="icd10cm", code="I11.9"),
    )
    with db.write() as session:
        note = session.get_one(Note, a)
        decisions.add_code(
            session,
            note,
            AddedCode("icd10cm", "Z79.4", "Long term (current) use of insulin", ((0, 7),)),
            "coder-jane",
            "insulin in the medication list",
        )
    time.sleep(0.01)
    boundary = datetime.now(UTC)
    time.sleep(0.01)
    _decide(db, c_ids["E0110"], DecisionInput(Action.ACCEPT, "coder-ann"))
    return Reviewed(a, b, c, boundary)
