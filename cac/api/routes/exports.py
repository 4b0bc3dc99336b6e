"""``/v1/exports``: audited decisions for retraining.

``/decisions`` streams the documented ``cac-decisions/3`` records (JSON Lines, one per reviewed
note version, each with the note's ``impact`` as ``GET /v1/notes/{id}`` shows it);
``/decision-rows`` pages through the decisions one row each. Note text leaves
only with ``include_text=true``, and each note whose text leaves is recorded in its audit.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from cac.api import views
from cac.api.context import current_request_id
from cac.api.deps import Exporter, ServicesDep
from cac.api.errors import InvalidInput
from cac.api.schemas.decisions import DecisionExportPage
from cac.api.schemas.problems import problem_responses
from cac.db import decisions
from cac.exports import decisions as export
from cac.exports.decisions import ExportRequest, ExportRequestError, NoteRecord

router = APIRouter(prefix="/v1/exports", tags=["exports"])

NDJSON = "application/x-ndjson"

_RECORD_EXAMPLE: dict[str, Any] = {
    "format": export.FORMAT,
    "export_id": "9b2f0c1e4d5a46f8a7e3c2b1d0f9e8a7",
    "note_id": 42,
    "external_id": "enc-2026-000123/discharge-summary",
    "version": 1,
    "setting": "inpatient",
    "created_at": "2026-11-27T10:15:00Z",
    "text_sha256": "6f1ed002ab5595859014ebf0951522d9f0b7a3c3e0d5f2b1a4c9e8d7f6a5b4c3",
    "model": {"pipeline": "tagger-lexicon-context/2", "kb": "3f9a1c0d2b7e"},
    "suggestions": [
        {
            "id": 311,
            "rank": 0,
            "system": "icd10cm",
            "code": "J18.9",
            "description": "Pneumonia, unspecified organism",
            "confidence": 0.82,
            "shown": True,
            "model_version": "tagger-lexicon-context/2;kb=3f9a1c0d2b7e",
            "assertion": "present",
            "needs_specificity": False,
            "evidence": [[78, 87]],
            "evidence_kinds": ["mention"],
            "rationale": [
                {
                    "rule": "cut.confidence",
                    "section": "I.A.19",
                    "detail": "the note states it: confidence 0.82 at or above 0.41",
                }
            ],
            "suppressed_by": None,
            "alternatives": [],
            "status": "replaced",
            "decisions": [
                {
                    "id": 17,
                    "sequence": 1,
                    "action": "replace",
                    "final_system": "icd10cm",
                    "final_code": "J15.9",
                    "coder": "coder-jane",
                    "created_at": "2026-11-27T10:20:00Z",
                    "reason": "culture grew gram-negative bacteria",
                    "supersedes": None,
                    "restored_suppressed": False,
                    "restored_rule": None,
                }
            ],
        },
        {
            "id": 312,
            "rank": 1,
            "system": "icd10cm",
            "code": "R50.9",
            "description": "Fever, unspecified",
            "confidence": 0.64,
            "shown": False,
            "model_version": "tagger-lexicon-context/2;kb=3f9a1c0d2b7e",
            "assertion": "present",
            "needs_specificity": False,
            "evidence": [[95, 100]],
            "evidence_kinds": ["mention"],
            "rationale": [],
            "suppressed_by": {
                "rule": "integral.fever_infection",
                "section": "I.B.5",
                "code": "J18.9",
                "detail": "fever is routinely part of an infection",
            },
            "alternatives": [],
            "status": "accepted",
            "decisions": [
                {
                    "id": 18,
                    "sequence": 1,
                    "action": "accept",
                    "final_system": "icd10cm",
                    "final_code": "R50.9",
                    "coder": "coder-jane",
                    "created_at": "2026-11-27T10:21:00Z",
                    "reason": "fever out of proportion to the pneumonia",
                    "supersedes": None,
                    "restored_suppressed": True,
                    "restored_rule": "integral.fever_infection",
                }
            ],
        },
    ],
    "added": [],
    # J18.9 replaced by J15.9, R50.9 restored: the codes in effect, grouped without age and sex.
    "impact": {
        "setting": "inpatient",
        "principal": {
            "code": "J15.9",
            "rule": "principal.first_listed",
            "section": "II",
            "reason": "the first code in sequence, the condition the coding ranks as chiefly "
            "responsible for the admission",
        },
        "drg": {
            "code": "195",
            "title": "Simple Pneumonia and Pleurisy without CC/MCC",
            "mdc": "04",
            "mdc_title": "Diseases and Disorders of the Respiratory System",
            "weight": 0.6285,
            "severity": "NONE",
            "version": "MS-DRG v43.1 (FY2026)",
            "provisional": True,
            "provisional_reason": "age and sex not given: grouped as age 65, sex unknown",
            "return_code": "OK",
        },
        "codes": [
            {
                "code": "J15.9",
                "system": "icd10cm",
                "role": "principal",
                "cc_mcc": None,
                "cc_excluded": False,
                "drg_impact": True,
                "hccs": [],
            },
            {
                "code": "R50.9",
                "system": "icd10cm",
                "role": "secondary",
                "cc_mcc": None,
                "cc_excluded": False,
                "drg_impact": False,
                "hccs": [],
            },
        ],
        "hcc": {
            "model": "CMS-HCC V28",
            "hccs": [],
            "raf": None,
            "raf_disease": 0.0,
            "raf_demographic": None,
            "segment": "community, non-dual, aged (disease part only: no age and sex)",
            "dropped_by_hierarchy": [],
        },
        "hcc_v24": {
            "model": "CMS-HCC V24",
            "hccs": [],
            "raf": None,
            "raf_disease": 0.0,
            "raf_demographic": None,
            "segment": "community, non-dual, aged (disease part only: no age and sex)",
            "dropped_by_hierarchy": [],
        },
        "prompts": [],
    },
}


class NdjsonResponse(StreamingResponse):
    media_type = NDJSON


@router.get(
    "/decisions",
    operation_id="exportDecisions",
    response_class=NdjsonResponse,
    summary="Stream reviewed notes with their suggestions and decisions (JSON Lines)",
    description=(
        f"One `{export.FORMAT}` record per line for each note version with a decision at or "
        "after `since` (every reviewed note without it), in note id order: the model's "
        "suggestions as stored (code, confidence, shown, model version, evidence offsets and "
        "kinds, the rules behind a shown code (`rationale`) or the rule that kept it back "
        "(`suppressed_by`), alternatives) with each one's decision chain (action, final code, "
        "coder, time, reason; `restored_suppressed` and `restored_rule` on an accept that "
        "restored a kept-back code), the codes coders "
        "added, the note's model versions, and its `impact` (principal, MS-DRG with CC/MCC per "
        "code, CMS-HCC with RAF, prompts: the shape of the note's `impact`, from the codes in "
        "effect; null when none is an ICD-10-CM code or the impact packages did not load). "
        "The JSON Schema is "
        f"`cac/exports/schema/{export.SCHEMA_FILE}` in the package. Note text is left out "
        "unless `include_text=true`; then every exported note gets a `note.text_exported` "
        "audit event naming the key and the export id."
    ),
    responses={
        200: {
            "description": "JSON Lines, one record per note version",
            "content": {NDJSON: {"schema": {"type": "string"}, "example": _RECORD_EXAMPLE}},
        },
        **problem_responses(401, 403, 422),
    },
)
def stream_decisions(
    principal: Exporter,
    services: ServicesDep,
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            # the schema promises an RFC 3339 time; a date alone is taken too (midnight UTC)
            json_schema_extra={"format": "date-time"},
            description="Only notes with a decision at or after this time (RFC 3339, "
            "`2026-11-27T10:00:00Z`; UTC without an offset) or date (`2026-11-27`, midnight "
            "UTC).",
        ),
    ] = None,
    include_text: Annotated[
        bool, Query(description="Add each note's text (audited per note).")
    ] = False,
) -> NdjsonResponse:
    try:
        parsed = export.parse_since(since) if since is not None else None
    except ExportRequestError as exc:
        problem = [{"field": "query.since", "message": str(exc)}]
        raise InvalidInput(str(exc), errors=problem) from None
    request = ExportRequest(
        actor=principal.name,
        via="api",
        since=parsed,
        include_text=include_text,
        request_id=current_request_id(),
    )
    records = export.stream(services.db, request, engine=services.impact)
    # Read the first batch now, so that a database error is still a problem+json response.
    first = next(records, None)
    head = [] if first is None else [first]
    return NdjsonResponse(_lines(chain(head, records)))


def _lines(records: Iterator[NoteRecord]) -> Iterator[bytes]:
    for record in records:
        yield (record.to_json() + "\n").encode("utf-8")


@router.get(
    "/decision-rows",
    operation_id="exportDecisionRows",
    response_model=DecisionExportPage,
    summary="Page through every decision, oldest first, one row each",
    responses=problem_responses(401, 403, 422),
)
def export_decision_rows(
    _: Exporter,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Last id already read.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DecisionExportPage:
    with services.db.read() as session:
        rows = decisions.export(session, after, limit)
    page = [views.export_row(d, s, n) for d, s, n in rows]
    return DecisionExportPage(
        decisions=page, next_after=page[-1].id if len(page) == limit else None
    )
