"""Notes in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from cac.api.schemas.decisions import RATIONALE_EXAMPLE, SuggestionOut
from cac.api.schemas.impact import ImpactOut

NOTE_EXAMPLE: dict[str, JsonValue] = {
    "external_id": "enc-2026-000123/discharge-summary",
    "text": "Discharge summary. History of type 2 diabetes mellitus. Admitted with community "
    "acquired pneumonia, treated with IV antibiotics. Denies chest pain.",
    "setting": "inpatient",
    "patient_ref": "Patient/8841",
    "encounter_ref": "Encounter/2026-000123",
}

FHIR_EXAMPLE: dict[str, JsonValue] = {
    "resourceType": "DocumentReference",
    "status": "current",
    "identifier": [{"system": "urn:oid:1.2.3.4", "value": "doc-000123"}],
    "subject": {"reference": "Patient/8841"},
    "context": {"encounter": [{"reference": "Encounter/2026-000123"}]},
    "content": [
        {
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "data": "QWRtaXR0ZWQgd2l0aCBjb21tdW5pdHkgYWNxdWlyZWQgcG5ldW1vbmlhLg==",
            }
        }
    ],
}


class NoteIn(BaseModel):
    """A note to code (``Content-Type: application/json``)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=False, json_schema_extra={"examples": [NOTE_EXAMPLE]}
    )

    external_id: str = Field(
        min_length=1,
        max_length=200,
        description="The sender's id of the note. Same id and same text again: the stored note "
        "is returned (200); same id, new text: a new version is coded (201).",
    )
    text: str = Field(description="The note, plain text, at most 100,000 characters.")
    setting: Literal["inpatient", "outpatient"] = Field(
        description="Decides how uncertain diagnoses are coded (ICD-10-CM guidelines)."
    )
    patient_ref: str | None = Field(default=None, max_length=200)
    encounter_ref: str | None = Field(default=None, max_length=200)
    patient_age: int | None = Field(
        default=None,
        ge=0,
        le=124,
        strict=True,
        description="Age in whole years at the encounter. With `patient_sex` it makes the MS-DRG "
        "final and the RAF complete; without them both are provisional (`impact`).",
    )
    patient_sex: Literal["male", "female", "other", "unknown"] | None = Field(
        default=None, description="Administrative sex (as FHIR `Patient.gender`)."
    )


class NoteVersion(BaseModel):
    id: int
    version: int
    created_at: datetime


class FinalCode(BaseModel):
    """A code the coders have settled on: accepted, the replacement of a replaced one, or added."""

    system: str
    code: str
    suggestion_id: int


class NoteOut(BaseModel):
    """A stored note version, its suggestions and the codes decided so far."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "external_id": "enc-2026-000123/discharge-summary",
                    "version": 1,
                    "setting": "inpatient",
                    "patient_ref": "Patient/8841",
                    "encounter_ref": "Encounter/2026-000123",
                    "source": "json",
                    "created_by": "epic-bridge",
                    "created_at": "2026-11-27T10:15:00Z",
                    "model": {"kb": "3f9a1c0d2b7e", "pipeline": "lexicon-context/1"},
                    "versions": [{"id": 42, "version": 1, "created_at": "2026-11-27T10:15:00Z"}],
                    "suggestions": [
                        {
                            "id": 311,
                            "note_id": 42,
                            "system": "icd10cm",
                            "code": "J18.9",
                            "description": "Pneumonia, unspecified organism",
                            "confidence": 0.82,
                            "evidence": [
                                {"start": 78, "end": 87, "text": "pneumonia", "kind": "mention"}
                            ],
                            "assertion": "present",
                            "demo": False,
                            "needs_specificity": False,
                            "shown": True,
                            "rationale": [RATIONALE_EXAMPLE],
                            "suppressed_by": None,
                            "alternatives": [],
                            "origin": "model",
                            "status": "pending",
                            "model_version": "lexicon-context/1;kb=3f9a1c0d2b7e",
                            "decision": None,
                        }
                    ],
                    "final_codes": [],
                }
            ]
        }
    )

    id: int
    external_id: str
    version: int
    setting: str
    patient_ref: str | None
    encounter_ref: str | None
    patient_age: int | None = Field(
        default=None,
        description="Age in whole years at the encounter, from a FHIR Bundle's Patient.birthDate.",
    )
    patient_sex: Literal["male", "female", "other", "unknown"] | None = Field(
        default=None, description="From a FHIR Bundle's Patient.gender."
    )
    source: Literal["json", "fhir"]
    created_by: str = Field(description="Name of the API key that posted the note.")
    created_at: datetime
    model: dict[str, Any] = Field(description="Versions of the knowledge base and models used.")
    versions: list[NoteVersion] = Field(description="Every version of this external id.")
    suggestions: list[SuggestionOut]
    final_codes: list[FinalCode]
    impact: ImpactOut | None = Field(
        default=None,
        description="What the codes in effect are worth (accepted, replacements, added, and "
        "shown codes not yet decided): principal, MS-DRG with CC/MCC per code, CMS-HCC with "
        "RAF, documentation prompts. Recomputed on every read, so a decision shows at once.",
    )


class NoteDetailOut(NoteOut):
    """A note with its text (evidence offsets index it)."""

    text: str
