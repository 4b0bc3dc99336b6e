"""The typed hand-offs of a batch run: a note to code, a row that could not be coded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

SETTINGS = ("inpatient", "outpatient")

ErrorKind = Literal["input", "duplicate", "note", "failure"]
"""Why a row failed: ``input`` (no usable id or record: bad JSON, missing id), ``duplicate`` (an id
seen earlier in the input), ``note`` (the note itself: empty, not UTF-8, too long, bad setting),
``failure`` (the coder raised an unexpected error)."""

# Errors of these kinds settle their note id: a rerun does not try it again.
SETTLED_KINDS: frozenset[str] = frozenset({"note", "failure"})


@dataclass(frozen=True, slots=True)
class NoteRow:
    """One note read from the input.

    Attributes:
        id: The note id (file name without ``.txt``, or the ``id`` field).
        text: The note text, decoded as UTF-8 (checked by :func:`cac.batch.rows.check_note`).
        setting: ``inpatient`` or ``outpatient`` (or whatever the input said; checked later).
        position: 0-based position in the input; orders the errors file.
        location: Where the row is, for people: ``notes/a.txt``, ``line 12``, ``row 7``.
        age: ``patient_age`` as the input gave it (None when it gives none); checked later,
            like the setting.
        sex: ``patient_sex`` as the input gave it (``male``, ``female``, ``other``,
            ``unknown``), or None.
    """

    id: str
    text: str
    setting: str
    position: int
    location: str
    age: object = None
    sex: object = None


@dataclass(frozen=True, slots=True)
class RowError:
    """An input row that produced no suggestions, and why. Never carries note text."""

    note_id: str | None
    position: int
    location: str
    kind: ErrorKind
    reason: str

    def to_record(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "position": self.position,
            "location": self.location,
            "kind": self.kind,
            "reason": self.reason,
        }
