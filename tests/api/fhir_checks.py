"""Checks shared by the FHIR tests: a response is a valid R4 (R4B models) Bundle."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.procedure import Procedure

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SYSTEMS = {
    "icd10cm": ICD10CM,
    "icd10pcs": "http://www.cms.gov/Medicare/Coding/ICD10",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "hcpcs": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
}
EVIDENCE = "urn:cac:fhir:StructureDefinition:evidence"
CONFIDENCE = "urn:cac:fhir:StructureDefinition:confidence"
REVIEW = "urn:cac:fhir:StructureDefinition:review"


def bundle_of(response: httpx.Response) -> dict[str, Any]:
    """The response's Bundle, validated as FHIR R4 (the R4B models) resource by resource."""
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    body: dict[str, Any] = response.json()
    Bundle.model_validate(body)
    assert body["resourceType"] == "Bundle" and body["type"] == "collection"
    for entry in body.get("entry", []):
        resource = entry["resource"]
        model = {"Condition": Condition, "Procedure": Procedure}[resource["resourceType"]]
        model.model_validate(resource)
    return body


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == kind]


def suggestion_id(resource: dict[str, Any]) -> int:
    (identifier,) = [i for i in resource["identifier"] if i["system"] == "urn:cac:suggestion"]
    return int(identifier["value"])


def verification(condition: dict[str, Any]) -> str:
    (coding,) = condition["verificationStatus"]["coding"]
    return str(coding["code"])


def coding(resource: dict[str, Any]) -> dict[str, Any]:
    (first,) = resource["code"]["coding"]
    return dict(first)


def extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


def parts(extension: dict[str, Any]) -> dict[str, Any]:
    """A complex extension's sub-extensions as ``{url: value}``."""
    out = {}
    for sub in extension["extension"]:
        (value,) = [v for k, v in sub.items() if k.startswith("value")]
        out[sub["url"]] = value
    return out
