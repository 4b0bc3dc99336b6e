"""A coded note's impact as batch columns: the same engine and the same JSON as the API.

A batch note has no decisions yet, so its codes in effect are the shown ones, in the coder's
ranking: the ICD-10-CM codes (the principal chosen by :mod:`cac.impact.principal`) and the
ICD-10-PCS codes. Age and sex come from the input row (``patient_age``, ``patient_sex``, as on
the API's plain note); without them the DRG is provisional and the RAF is left out (the disease
part, ``raf_disease``, is given). The engine is the process's
:func:`~cac.impact.shared_engine`: each worker loads the tables once.

Every row of a note carries the note's figures (``principal``, ``drg``, ``drg_weight``,
``drg_provisional``, ``hccs``, ``raf``, ``raf_disease``, ``prompts``, ``impact``) and its own
code's ``cc_mcc``; they are null when no shown code is ICD-10-CM (and on error rows).
``impact`` is the API's ``impact`` object (:class:`~cac.api.schemas.impact.ImpactOut`) as a JSON
string, ``prompts`` its prompts list as a JSON string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cac.api.schemas.impact import ImpactOut
from cac.coding.records import Demographics, Sex
from cac.impact import Impact, ImpactEngine, ImpactRequest

if TYPE_CHECKING:
    from cac.pipeline import CodingResult, Setting

SEXES: tuple[Sex, ...] = ("male", "female", "other", "unknown")
MAX_AGE = 124

# (name, Arrow type, Spark DDL type), in output order.
IMPACT_FIELDS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("principal", pa.string(), "string"),
    ("drg", pa.string(), "string"),
    ("drg_weight", pa.float64(), "double"),
    ("drg_provisional", pa.bool_(), "boolean"),
    ("cc_mcc", pa.string(), "string"),
    ("hccs", pa.list_(pa.string()), "array<string>"),
    ("raf", pa.float64(), "double"),
    ("raf_disease", pa.float64(), "double"),
    ("prompts", pa.string(), "string"),
    ("impact", pa.string(), "string"),
)
IMPACT_COLUMNS = tuple(name for name, _, _ in IMPACT_FIELDS)


def check_demographics(age: object, sex: object) -> str | None:
    """Why a row's age or sex is unusable, or None (both may be missing)."""
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE
    ):
        return f"patient_age must be a whole number of years from 0 to {MAX_AGE}"
    if sex is not None and sex not in SEXES:
        return f"patient_sex must be one of {', '.join(SEXES)}"
    return None


def demographics(age: int | None, sex: Any) -> Demographics | None:
    """The patient as the engine takes it; None when the row gives neither."""
    if age is None and sex is None:
        return None
    return Demographics(age=age, sex=sex)


def request_for(
    result: CodingResult, setting: Setting, people: Demographics | None
) -> ImpactRequest | None:
    """The shown codes of a coded note as an impact question; None without an ICD-10-CM one."""
    shown = [s for s in result.suggestions if s.shown]
    dx = tuple(dict.fromkeys(s.code for s in shown if s.system.value == "icd10cm"))
    pcs = tuple(dict.fromkeys(s.code for s in shown if s.system.value == "icd10pcs"))
    if not dx:
        return None
    return ImpactRequest(dx, pcs, setting, people)


def assess(
    engine: ImpactEngine, result: CodingResult, setting: Setting, people: Demographics | None
) -> Impact | None:
    request = request_for(result, setting, people)
    return engine.assess(request) if request is not None else None


def note_columns(impact: Impact | None) -> dict[str, Any]:
    """The note-level columns (``cc_mcc`` is per row: :func:`cc_mcc`)."""
    if impact is None:
        return dict.fromkeys(IMPACT_COLUMNS)
    out = ImpactOut.of(impact)
    drg = impact.drg
    return {
        "principal": impact.principal.code if impact.principal else None,
        "drg": drg.code if drg else None,
        "drg_weight": drg.weight if drg else None,
        "drg_provisional": drg.provisional if drg else None,
        "cc_mcc": None,
        "hccs": list(impact.hcc.hcc_codes),
        "raf": impact.hcc.raf,
        "raf_disease": impact.hcc.raf_disease,
        "prompts": "[" + ",".join(p.model_dump_json() for p in out.prompts) + "]",
        "impact": out.model_dump_json(),
    }


def cc_mcc(impact: Impact | None, system: str, code: str) -> str | None:
    """A row's code's CC/MCC in the note's grouping (after the principal's exclusions)."""
    if impact is None:
        return None
    for part in impact.codes:
        if part.system == system and part.code == code:
            return part.cc_mcc
    return None
