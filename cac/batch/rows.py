"""One coded note as flat rows: the single conversion every engine uses, so outputs match.

A note gives one row per suggestion, in the coder's ranking (``rank`` 1, 2, ...). A note with no
suggestions gives one row whose suggestion fields are empty, so the output accounts for every note
it coded. A note that cannot be coded gives one row with ``error_kind`` and ``error`` set; the
engines move those rows to the errors file.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from cac.batch.records import SETTINGS, ErrorKind
from cac.errors import CacError

if TYPE_CHECKING:
    from cac.batch.coder import NoteCoder
    from cac.pipeline import CodingResult, Setting

logger = logging.getLogger(__name__)

EVIDENCE_TYPE = pa.list_(
    pa.struct([("start", pa.int32()), ("end", pa.int32()), ("kind", pa.string())])
)
# Why a code is shown (the rules that made or kept it) or kept back (the rule and the shown code
# that displaced it): cac.coding.records.RuleCitation and Suppression.
RATIONALE_TYPE = pa.list_(
    pa.struct([("rule", pa.string()), ("section", pa.string()), ("detail", pa.string())])
)
SUPPRESSION_TYPE = pa.struct(
    [
        ("rule", pa.string()),
        ("section", pa.string()),
        ("code", pa.string()),
        ("detail", pa.string()),
    ]
)

# The output columns, in order (the errors file has ERROR_SCHEMA instead).
ROW_SCHEMA = pa.schema(
    [
        ("note_id", pa.string()),
        ("setting", pa.string()),
        ("rank", pa.int32()),
        ("system", pa.string()),
        ("code", pa.string()),
        ("description", pa.string()),
        ("confidence", pa.float64()),
        ("evidence", EVIDENCE_TYPE),
        ("assertion", pa.string()),
        ("needs_specificity", pa.bool_()),
        ("shown", pa.bool_()),
        ("demo", pa.bool_()),
        ("rationale", RATIONALE_TYPE),
        ("suppressed_by", SUPPRESSION_TYPE),
        ("alternatives", pa.list_(pa.string())),
        ("model", pa.string()),
    ]
)
ERROR_COLUMNS = ("error_kind", "error")
# What the coding step returns per note (and what ``code_dataframe`` gives back): the output
# columns plus the error, as a Spark DDL schema.
SPARK_SCHEMA = ", ".join(
    [
        "note_id string",
        "setting string",
        "rank int",
        "system string",
        "code string",
        "description string",
        "confidence double",
        "evidence array<struct<start:int,end:int,kind:string>>",
        "assertion string",
        "needs_specificity boolean",
        "shown boolean",
        "demo boolean",
        "rationale array<struct<rule:string,section:string,detail:string>>",
        "suppressed_by struct<rule:string,section:string,code:string,detail:string>",
        "alternatives array<string>",
        "model string",
        "error_kind string",
        "error string",
    ]
)
RECORD_COLUMNS = (*ROW_SCHEMA.names, *ERROR_COLUMNS)

ERROR_SCHEMA = pa.schema(
    [
        ("note_id", pa.string()),
        ("position", pa.int64()),
        ("location", pa.string()),
        ("kind", pa.string()),
        ("reason", pa.string()),
    ]
)


def _empty(note_id: str | None, setting: str | None) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(RECORD_COLUMNS)
    record["note_id"] = note_id
    record["setting"] = setting
    record["evidence"] = []
    record["rationale"] = []
    record["alternatives"] = []
    return record


def error_record(
    note_id: str | None, setting: str | None, kind: ErrorKind, reason: str
) -> dict[str, Any]:
    """The one record of a note that could not be coded."""
    record = _empty(note_id, setting)
    record["error_kind"] = kind
    record["error"] = reason
    return record


def result_records(note_id: str, setting: str, result: CodingResult) -> list[dict[str, Any]]:
    """The rows of one coded note: one per suggestion, ranked; one empty row if there are none."""
    model = json.dumps(result.model, sort_keys=True, default=str)
    if not result.suggestions:
        record = _empty(note_id, setting)
        record["model"] = model
        return [record]
    return [
        {
            "note_id": note_id,
            "setting": setting,
            "rank": rank,
            "system": s.system.value,
            "code": s.code,
            "description": s.description,
            "confidence": float(s.confidence),
            "evidence": [{"start": e.start, "end": e.end, "kind": e.kind} for e in s.evidence],
            "assertion": s.assertion,
            "needs_specificity": bool(s.needs_specificity),
            "shown": bool(s.shown),
            "demo": bool(s.demo),
            "rationale": [r.to_json() for r in s.rationale],
            "suppressed_by": s.suppressed_by.to_json() if s.suppressed_by else None,
            "alternatives": list(s.alternatives),
            "model": model,
            "error_kind": None,
            "error": None,
        }
        for rank, s in enumerate(result.suggestions, start=1)
    ]


def check_note(note_id: object, text: object, setting: object) -> tuple[ErrorKind, str] | None:
    """Why a row cannot be coded, or None. Reasons never quote the text."""
    if note_id is None or not isinstance(note_id, str) or not note_id.strip():
        return ("input", "missing id")
    if text is None:
        return ("note", "missing text")
    if not isinstance(text, str):
        return ("note", "text is not a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ("note", "text is not valid UTF-8")
    if not text.strip():
        return ("note", "the note is empty")
    if setting not in SETTINGS:
        return ("note", "setting must be inpatient or outpatient")
    return None


def code_note(coder: NoteCoder, note_id: Any, text: Any, setting: Any) -> list[dict[str, Any]]:
    """Code one note into records; a bad note gives one error record, never an exception."""
    problem = check_note(note_id, text, setting)
    if problem is not None:
        kind, reason = problem
        usable_id = note_id if isinstance(note_id, str) and note_id.strip() else None
        usable_setting = setting if isinstance(setting, str) else None
        return [error_record(usable_id, usable_setting, kind, reason)]
    try:
        result = coder.code(text, cast("Setting", setting))
    except CacError as exc:  # the coder's own messages carry no note text
        return [error_record(note_id, setting, "note", str(exc))]
    except Exception as exc:  # one bad note must not stop the run
        logger.warning("coding note %s failed with %s", note_id, type(exc).__name__)
        return [error_record(note_id, setting, "failure", f"the coder raised {type(exc).__name__}")]
    return result_records(note_id, setting, result)
