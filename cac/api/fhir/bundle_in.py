"""A FHIR R4 ``Bundle`` (``collection``, ``transaction`` or ``document``) read as a note.

The Bundle holds exactly one ``DocumentReference`` (the note, read as
:mod:`cac.api.fhir.document` reads one alone) and optionally its ``Patient`` and ``Encounter``:

- the ``Patient`` is the one the document's ``subject`` references, else the Bundle's only
  ``Patient``; the ``Encounter`` is the one ``context.encounter[0]`` references, else the
  Bundle's only ``Encounter``;
- every reference cac reads (the document's ``subject`` and ``context.encounter``, the
  encounter's ``subject``) must resolve inside the Bundle, to an entry whose ``fullUrl`` it is,
  or whose ``resourceType/id`` it is, and of the right type;
- the setting comes from ``Encounter.class`` (:data:`SETTINGS`) unless the request gives one;
- the age in whole years at the encounter comes from ``Patient.birthDate`` and the encounter's
  ``period.start`` (else the document's ``context.period.start``, else its ``date``, else
  today); a partial birth date counts from its first day (``1950`` is 1 January 1950). The sex
  is ``Patient.gender``.

Errors name the entry (``entry.2.resource.class``) and never repeat a value from the Bundle:
birth dates and genders are patient data.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cac.api.errors import InvalidInput, field_errors, summarize
from cac.api.fhir.document import (
    DocumentReference,
    Period,
    Reference,
    note_from_document,
    parse_document,
)
from cac.coding.records import Demographics, Sex
from cac.db.notes import NoteInput

# Encounter.class codes (v3 ActCode) and the setting each means for coding.
SETTINGS: Final[dict[str, Literal["inpatient", "outpatient"]]] = {
    "IMP": "inpatient",
    "ACUTE": "inpatient",
    "NONAC": "inpatient",
    "AMB": "outpatient",
    "EMER": "outpatient",
    "VR": "outpatient",
    "HH": "outpatient",
}
BUNDLE_TYPES: Final = ("collection", "transaction", "document")
DEFAULT_SETTING: Final = "inpatient"
_GENDERS: Final = ("male", "female", "other", "unknown")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_MAX_AGE = 150
_Model = TypeVar("_Model", bound=BaseModel)


class _Element(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Resource(_Element):
    resourceType: str  # FHIR spelling
    id: str | None = None


class _Entry(_Element):
    fullUrl: str | None = None
    resource: _Resource


class _Bundle(_Element):
    resourceType: Literal["Bundle"]
    type: str
    entry: list[_Entry] = Field(default_factory=list)


class _Coding(_Element):
    system: str | None = None
    code: str | None = None


class _CodeableConcept(_Element):
    coding: list[_Coding] = Field(default_factory=list)


class _Encounter(_Element):
    # R4 has one Coding; R5 a list of CodeableConcepts: both are read
    class_: _Coding | list[_CodeableConcept] | None = Field(default=None, alias="class")
    period: Period | None = None
    subject: Reference | None = None


class _Patient(_Element):
    gender: str | None = None
    birthDate: str | None = None


def is_bundle(resource: Any) -> bool:
    return isinstance(resource, dict) and resource.get("resourceType") == "Bundle"


def note_from_bundle(resource: Any, setting: str | None, today: date) -> NoteInput:
    """The note of a parsed Bundle body.

    Args:
        resource: The parsed JSON.
        setting: The request's ``?setting=``, which wins over ``Encounter.class``.
        today: The date an age is counted to when neither encounter nor document has one.

    Raises:
        InvalidInput: naming the entry: no DocumentReference or two, a reference that does not
            resolve inside the Bundle, an unmapped encounter class, an unreadable birth date.
    """
    bundle = _parse(resource, _Bundle, "")
    if bundle.type not in BUNDLE_TYPES:
        raise _invalid("type", f"a Bundle of type {', '.join(BUNDLE_TYPES)}; not this type")
    index = _Index(bundle)
    doc_at = _the_document(bundle)
    where = f"entry.{doc_at}.resource"
    doc = parse_document(_raw(resource, doc_at), where)
    patient_at = index.resolve(doc.subject, f"{where}.subject", "Patient")
    encounter_refs = doc.context.encounter if doc.context else []
    encounter_at = None
    for i, ref in enumerate(encounter_refs):
        found = index.resolve(ref, f"{where}.context.encounter.{i}", "Encounter")
        encounter_at = found if encounter_at is None else encounter_at
    patient_at = patient_at if patient_at is not None else index.only("Patient")
    encounter_at = encounter_at if encounter_at is not None else index.only("Encounter")

    encounter = None
    if encounter_at is not None:
        encounter = _parse(_raw(resource, encounter_at), _Encounter, f"entry.{encounter_at}")
        subject = index.resolve(
            encounter.subject, f"entry.{encounter_at}.resource.subject", "Patient"
        )
        if subject is not None and patient_at is not None and subject != patient_at:
            raise _invalid(
                f"entry.{encounter_at}.resource.subject",
                "the Encounter's subject is the DocumentReference's patient",
            )
        patient_at = patient_at if patient_at is not None else subject
    demographics = None
    if patient_at is not None:
        patient = _parse(_raw(resource, patient_at), _Patient, f"entry.{patient_at}")
        on = _encounter_date(encounter, doc, encounter_at, doc_at) or today
        demographics = _demographics(patient, on, f"entry.{patient_at}.resource")
    return note_from_document(
        doc,
        setting or _setting(encounter, encounter_at),
        where=where,
        patient_ref=index.reference(patient_at),
        encounter_ref=index.reference(encounter_at),
        demographics=demographics,
    )


class _Index:
    """The Bundle's entries by every literal reference that names them."""

    def __init__(self, bundle: _Bundle) -> None:
        self.bundle = bundle
        self.by_reference: dict[str, int] = {}
        for i, entry in enumerate(bundle.entry):
            names = [entry.fullUrl] if entry.fullUrl else []
            if entry.resource.id:
                names.append(f"{entry.resource.resourceType}/{entry.resource.id}")
            for name in names:
                self.by_reference.setdefault(name, i)

    def resolve(self, ref: Reference | None, field: str, kind: str) -> int | None:
        """The entry a reference names; None for no literal reference.

        Raises:
            InvalidInput: the reference names no entry, or one of another type.
        """
        if ref is None or not ref.reference:
            return None
        at = self.by_reference.get(ref.reference)
        if at is None:
            raise _invalid(
                field,
                f"a reference to a {kind} entry of this Bundle (its fullUrl or {kind}/id); "
                "this one resolves to no entry. Put the resource in the Bundle",
            )
        if self.bundle.entry[at].resource.resourceType != kind:
            raise _invalid(field, f"a reference to a {kind}; this one names entry.{at}")
        return at

    def only(self, kind: str) -> int | None:
        found = [i for i, e in enumerate(self.bundle.entry) if e.resource.resourceType == kind]
        return found[0] if len(found) == 1 else None

    def reference(self, at: int | None) -> str | None:
        """How the stored note refers to an entry: ``Type/id``, else its fullUrl."""
        if at is None:
            return None
        entry = self.bundle.entry[at]
        if entry.resource.id:
            return f"{entry.resource.resourceType}/{entry.resource.id}"[:200]
        return entry.fullUrl[:200] if entry.fullUrl else None


def _the_document(bundle: _Bundle) -> int:
    found = [
        i for i, e in enumerate(bundle.entry) if e.resource.resourceType == "DocumentReference"
    ]
    if not found:
        raise _invalid("entry", "one DocumentReference entry (the note); this Bundle has none")
    if len(found) > 1:
        entries = ", ".join(f"entry.{i}" for i in found)
        raise InvalidInput(
            f"the Bundle holds {len(found)} DocumentReference entries ({entries}); post one "
            "note per Bundle",
            errors=[
                {"field": f"entry.{i}", "message": "a second DocumentReference"} for i in found[1:]
            ],
        )
    return found[0]


def _setting(encounter: _Encounter | None, at: int | None) -> str:
    if encounter is None:
        return DEFAULT_SETTING
    field = f"entry.{at}.resource.class"
    if encounter.class_ is None:
        raise _invalid(
            field, "Encounter.class (IMP, ACUTE, NONAC, AMB, EMER, VR, HH), or ?setting="
        )
    codings = (
        [encounter.class_]
        if isinstance(encounter.class_, _Coding)
        else [c for concept in encounter.class_ for c in concept.coding]
    )
    for coding in codings:
        if coding.code in SETTINGS:
            return SETTINGS[coding.code]
    known = ", ".join(SETTINGS)
    raise _invalid(
        field, f"an Encounter.class code cac maps to a setting ({known}); or send ?setting="
    )


def _encounter_date(
    encounter: _Encounter | None, doc: DocumentReference, encounter_at: int | None, doc_at: int
) -> date | None:
    doc_period = doc.context.period if doc.context else None
    candidates = [
        (encounter.period.start if encounter and encounter.period else None, encounter_at),
        (doc_period.start if doc_period else None, doc_at),
        (doc.date, doc_at),
    ]
    fields = ("period.start", "context.period.start", "date")
    for (value, at), name in zip(candidates, fields, strict=True):
        if value:
            return _date(value, f"entry.{at}.resource.{name}")
    return None


def _date(value: str, field: str) -> date:
    """A FHIR date or dateTime's date; a partial one counts from its first day."""
    match = _DATE.match(value)
    try:
        if match is None:
            raise ValueError
        year, month, day = (int(g) if g else 1 for g in match.groups())
        return date(year, month, day)
    except ValueError:
        raise _invalid(field, "a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)") from None


def _demographics(patient: _Patient, on: date, where: str) -> Demographics:
    age = None
    if patient.birthDate:
        born = _date(patient.birthDate, f"{where}.birthDate")
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        if not 0 <= age <= _MAX_AGE:
            raise _invalid(
                f"{where}.birthDate",
                f"a birth date before the encounter and at most {_MAX_AGE} years before it",
            )
    sex = None
    if patient.gender is not None:
        if patient.gender not in _GENDERS:
            raise _invalid(f"{where}.gender", f"one of {', '.join(_GENDERS)}")
        sex = cast("Sex", patient.gender)
    return Demographics(age=age, sex=sex)


def _raw(resource: dict[str, Any], at: int) -> Any:
    return resource["entry"][at]["resource"]


def _parse(raw: Any, model: type[_Model], where: str) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = field_errors(exc.errors(include_input=False, include_url=False))
        prefix = f"{where}.resource." if where else ""
        errors = [{**e, "field": prefix + e["field"]} for e in errors]
        named = f"{where} ({model.__name__.lstrip('_')})" if where else "the Bundle"
        raise InvalidInput(f"{named} is malformed: {summarize(errors)}", errors=errors) from None


def _invalid(field: str, expected: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: expected {expected}", errors=[{"field": field, "message": expected}]
    )
