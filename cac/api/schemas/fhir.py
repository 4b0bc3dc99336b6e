"""The FHIR R4 Bundle cac answers with, as OpenAPI describes it (the resources inside are
FHIR's own; cac builds them with ``fhir.resources`` and documents them in the README)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

BUNDLE_EXAMPLE: dict[str, JsonValue] = {
    "resourceType": "Bundle",
    "id": "note-42",
    "identifier": {"system": "urn:cac:note", "value": "42"},
    "type": "collection",
    "timestamp": "2026-11-27T10:15:00+00:00",
    "entry": [
        {
            "fullUrl": "urn:uuid:0b6b8e67-6f0d-5c1e-9d0a-8f3c1f2b7a10",
            "resource": {
                "resourceType": "Condition",
                "id": "suggestion-311",
                "extension": [
                    {
                        "url": "urn:cac:fhir:StructureDefinition:evidence",
                        "extension": [
                            {"url": "start", "valueInteger": 78},
                            {"url": "end", "valueInteger": 87},
                            {"url": "text", "valueString": "pneumonia"},
                            {"url": "kind", "valueCode": "mention"},
                        ],
                    },
                    {"url": "urn:cac:fhir:StructureDefinition:confidence", "valueDecimal": 0.82},
                    {
                        "url": "urn:cac:fhir:StructureDefinition:review",
                        "extension": [
                            {"url": "status", "valueCode": "accepted"},
                            {"url": "origin", "valueCode": "model"},
                        ],
                    },
                ],
                "identifier": [{"system": "urn:cac:suggestion", "value": "311"}],
                "verificationStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "confirmed",
                        }
                    ]
                },
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "condition-category",
                                "code": "encounter-diagnosis",
                            }
                        ]
                    }
                ],
                "code": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/sid/icd-10-cm",
                            "code": "J18.9",
                            "display": "Pneumonia, unspecified organism",
                        }
                    ],
                    "text": "Pneumonia, unspecified organism",
                },
                "subject": {"reference": "Patient/8841"},
                "encounter": {"reference": "Encounter/2026-000123"},
            },
        }
    ],
}


class FhirBundleEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    fullUrl: str | None = None  # FHIR spelling
    resource: dict[str, Any] = Field(description="A FHIR R4 `Condition` or `Procedure`.")


class FhirBundle(BaseModel):
    """A FHIR R4 ``Bundle`` of type ``collection`` (``Accept: application/fhir+json``): one
    ``Condition`` per listed ICD-10-CM suggestion, one ``Procedure`` per listed ICD-10-PCS, CPT
    or HCPCS suggestion."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [BUNDLE_EXAMPLE]})

    resourceType: Literal["Bundle"]  # FHIR spelling
    id: str | None = None
    type: Literal["collection"]
    entry: list[FhirBundleEntry] = Field(default_factory=list)


BUNDLE_IN_EXAMPLE: dict[str, JsonValue] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "urn:uuid:6d1f0a52-3b1e-4c8e-9a57-0c6f2b1d7e41",
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "identifier": [{"system": "urn:oid:1.2.3.4", "value": "doc-000124"}],
                "subject": {"reference": "Patient/8841"},
                "context": {"encounter": [{"reference": "Encounter/2026-000124"}]},
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain; charset=utf-8",
                            "data": "QWRtaXR0ZWQgd2l0aCBjb21tdW5pdHkgYWNxdWlyZWQgcG5ldW1vbmlhLg==",
                        }
                    }
                ],
            },
        },
        {
            "fullUrl": "https://ehr.example/fhir/Patient/8841",
            "resource": {
                "resourceType": "Patient",
                "id": "8841",
                "gender": "female",
                "birthDate": "1950-04-02",
            },
        },
        {
            "fullUrl": "https://ehr.example/fhir/Encounter/2026-000124",
            "resource": {
                "resourceType": "Encounter",
                "id": "2026-000124",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": {"reference": "Patient/8841"},
                "period": {"start": "2026-11-25T08:00:00Z"},
            },
        },
    ],
}


class FhirBundleIn(BaseModel):
    """A FHIR R4 ``Bundle`` (``collection``, ``transaction`` or ``document``) holding one
    ``DocumentReference`` (as the plain one) and optionally its ``Patient`` (age at the
    encounter from ``birthDate``, sex from ``gender``) and ``Encounter`` (the setting from
    ``class``: IMP, ACUTE, NONAC inpatient; AMB, EMER, VR, HH outpatient). References must
    resolve inside the Bundle."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [BUNDLE_IN_EXAMPLE]})

    resourceType: Literal["Bundle"]  # FHIR spelling
    type: Literal["collection", "transaction", "document"]
    entry: list[FhirBundleEntry] = Field(min_length=1)
