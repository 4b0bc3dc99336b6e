"""The code systems cac writes in FHIR, and the canonical URLs of cac's own extensions.

cac's extensions (documented in the README, "FHIR"), each on a ``Condition`` or ``Procedure``
made from a suggestion:

- ``urn:cac:fhir:StructureDefinition:evidence``: one per evidence span, with sub-extensions
  ``start`` and ``end`` (``valueInteger``, character offsets into the note text, end exclusive),
  ``text`` (``valueString``, the words at those offsets) and ``kind`` (``valueCode``:
  ``mention``, ``abbreviation``, ``combination``; an ``inferred`` code has only ``kind``);
- ``urn:cac:fhir:StructureDefinition:confidence``: ``valueDecimal``, the model's calibrated
  confidence (absent for a coder's code);
- ``urn:cac:fhir:StructureDefinition:review``: sub-extensions ``status`` (``valueCode``:
  ``pending``, ``accepted``, ``rejected``, ``replaced``), ``origin`` (``model`` or ``coder``)
  and, for a replaced suggestion, ``suggestedCode`` (``valueCoding``, what the model proposed).
"""

from __future__ import annotations

from typing import Final

from cac.codesets.records import System

CODE_SYSTEMS: Final[dict[System, str]] = {
    System.ICD10CM: "http://hl7.org/fhir/sid/icd-10-cm",
    System.ICD10PCS: "http://www.cms.gov/Medicare/Coding/ICD10",
    System.CPT: "http://www.ama-assn.org/go/cpt",
    System.HCPCS: "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
}

EXTENSION_BASE: Final = "urn:cac:fhir:StructureDefinition:"
EVIDENCE: Final = EXTENSION_BASE + "evidence"
CONFIDENCE: Final = EXTENSION_BASE + "confidence"
REVIEW: Final = EXTENSION_BASE + "review"

# Identifiers of what cac stores, so a client can map a resource back to the API.
SUGGESTION_ID: Final = "urn:cac:suggestion"
NOTE_ID: Final = "urn:cac:note"

DATA_ABSENT_REASON: Final = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
ENCOUNTER_CLASS: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
