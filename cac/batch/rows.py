"""One coded note as flat rows: the single conversion every engine uses, so outputs match.

A note gives one row per suggestion, in the coder's ranking (``rank`` 1, 2, ...). A note with no
suggestions gives one row whose suggestion fields are empty, so the output accounts for every note
it coded. A note that cannot be coded gives one row with ``error_kind`` and ``error`` set; the
engines move those rows to the errors file. With an impact engine every row also carries its
note's impact (:mod:`cac.batch.impact`: MS-DRG, CC/MCC, HCCs, RAF, prompts).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from cac.batch import impact as impact_columns
from cac.batch.impact import IMPACT_FIELDS
from cac.batch.records import SETTINGS, ErrorKind
from cac.errors import CacError

if TYPE_CHECKING:
    from cac.batch.coder import NoteCoder
    from cac.impact import Impact, ImpactEngine
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
        *((name, arrow) for name, arrow, _ in IMPACT_FIELDS),
    ]
)
ERROR_COLUMNS = ("error_kind", "error")
# What the coding step returns per note (and what ``code_dataframe`` gives back): the suggestion
# columns plus the error, as a Spark DDL schema; SPARK_IMPACT_SCHEMA adds the impact columns
# (``code_dataframe(impact=True)``, and ``cac batch --engine spark``).
_SPARK_COLUMNS = [
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
]
_SPARK_IMPACT_COLUMNS = [f"{name} {ddl}" for name, _, ddl in IMPACT_FIELDS]
_SPARK_ERROR_COLUMNS = ["error_kind string", "error string"]
SPARK_SCHEMA = ", ".join(_SPARK_COLUMNS + _SPARK_ERROR_COLUMNS)
SPARK_IMPACT_SCHEMA = ", ".join(_SPARK_COLUMNS + _SPARK_IMPACT_COLUMNS + _SPARK_ERROR_COLUMNS)
RECORD_COLUMNS = (*ROW_SCHEMA.names, *ERROR_COLUMNS)
# The columns of SPARK_SCHEMA: the records without impact.
BASE_RECORD_COLUMNS = tuple(c for c in RECORD_COLUMNS if c not in impact_columns.IMPACT_COLUMNS)

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


def result_records(
    note_id: str, setting: str, result: CodingResult, impact: Impact | None = None
) -> list[dict[str, Any]]:
    """The rows of one coded note: one per suggestion, ranked; one empty row if there are none.
    Each carries the note's ``impact`` columns (all null without one)."""
    model = json.dumps(result.model, sort_keys=True, default=str)
    note_level = impact_columns.note_columns(impact)
    if not result.suggestions:
        record = _empty(note_id, setting)
        record["model"] = model
        record.update(note_level)
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
            **note_level,
            "cc_mcc": impact_columns.cc_mcc(impact, s.system.value, s.code),
            "error_kind": None,
            "error": None,
        }
        for rank, s in enumerate(result.suggestions, start=1)
    ]


def check_note(
    note_id: object, text: object, setting: object, age: object = None, sex: object = None
) -> tuple[ErrorKind, str] | None:
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
    people = impact_columns.check_demographics(age, sex)
    return ("note", people) if people is not None else None


def refused(
    note_id: Any, text: Any, setting: Any, age: Any = None, sex: Any = None
) -> list[dict[str, Any]] | None:
    """The one error record of a note that cannot be coded (:func:`check_note`), or None."""
    problem = check_note(note_id, text, setting, age, sex)
    if problem is None:
        return None
    kind, reason = problem
    usable_id = note_id if isinstance(note_id, str) and note_id.strip() else None
    usable_setting = setting if isinstance(setting, str) else None
    return [error_record(usable_id, usable_setting, kind, reason)]


def code_note(
    coder: NoteCoder,
    note_id: Any,
    text: Any,
    setting: Any,
    age: Any = None,
    sex: Any = None,
    *,
    engine: ImpactEngine | None = None,
) -> list[dict[str, Any]]:
    """Code one note into records; a bad note gives one error record, never an exception.

    Args:
        age: the patient's age in whole years, when the input gives it.
        sex: ``male``, ``female``, ``other`` or ``unknown``, when the input gives it.
        engine: adds the note's impact to its rows (loaded once per process by the caller).
    """
    refusal = refused(note_id, text, setting, age, sex)
    if refusal is not None:
        return refusal
    try:
        result = coder.code(text, cast("Setting", setting))
    except CacError as exc:  # the coder's own messages carry no note text
        return [error_record(note_id, setting, "note", str(exc))]
    except Exception as exc:  # one bad note must not stop the run
        logger.warning("coding note %s failed with %s", note_id, type(exc).__name__)
        return [error_record(note_id, setting, "failure", f"the coder raised {type(exc).__name__}")]
    impact = None
    if engine is not None:
        try:
            impact = impact_columns.assess(
                engine, result, setting, impact_columns.demographics(age, sex)
            )
        except Exception as exc:  # the grouper's native code; one note must not stop the run
            logger.warning("impact of note %s failed with %s", note_id, type(exc).__name__)
            reason = f"the impact engine raised {type(exc).__name__}"
            return [error_record(note_id, setting, "failure", reason)]
    return result_records(note_id, setting, result, impact)
