"""``/v1/notes``: post a note (JSON or FHIR), read it, its suggestions and audit; add codes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cac.api import services as svc
from cac.api import views
from cac.api.accept import wants_fhir
from cac.api.context import current_request_id
from cac.api.deps import AuditReader, CoderDep, Decider, KbDep, NoteReader, NoteWriter, ServicesDep
from cac.api.fhir.bundle_out import note_bundle
from cac.api.fhir.document import DocumentReference
from cac.api.intake import FHIR_JSON, JSON, read_note, require_json
from cac.api.schemas.decisions import AddCodeIn, AuditOut, DecisionResult, SuggestionList
from cac.api.schemas.fhir import BUNDLE_EXAMPLE, BUNDLE_IN_EXAMPLE, FhirBundle, FhirBundleIn
from cac.api.schemas.impact import PrincipalIn
from cac.api.schemas.notes import FHIR_EXAMPLE, NOTE_EXAMPLE, NoteDetailOut, NoteIn, NoteOut
from cac.api.schemas.problems import problem_responses
from cac.api.state import Services
from cac.codesets.records import System
from cac.db import audit, notes

router = APIRouter(prefix="/v1/notes", tags=["notes"])

NoteId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The note's id (one version).")]

_NOTE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": {"$ref": "#/components/schemas/NoteIn"},
                "examples": {"note": {"summary": "A plain JSON note", "value": NOTE_EXAMPLE}},
            },
            FHIR_JSON: {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/DocumentReference"},
                        {"$ref": "#/components/schemas/FhirBundleIn"},
                    ]
                },
                "examples": {
                    "document_reference": {
                        "summary": "A FHIR R4 DocumentReference, text/plain, base64",
                        "value": FHIR_EXAMPLE,
                    },
                    "bundle": {
                        "summary": "A Bundle: the DocumentReference, its Patient and Encounter",
                        "value": BUNDLE_IN_EXAMPLE,
                    },
                },
            },
        },
    }
}
# Schemas referenced only from hand-written parts (bodies above, FHIR answers); the app adds them.
EXTRA_SCHEMAS = (NoteIn, DocumentReference, FhirBundleIn, FhirBundle)
# JSON first: generated clients type a response by its first content type (FastAPI puts the
# response model's schema into the empty JSON entry).
_FHIR_ANSWER: dict[str, Any] = {
    JSON: {},
    FHIR_JSON: {
        "schema": {"$ref": "#/components/schemas/FhirBundle"},
        "example": BUNDLE_EXAMPLE,
    },
}
_FHIR_NOTE = (
    " With `Accept: application/fhir+json` the answer is a FHIR R4 `Bundle` (`collection`): a "
    "`Condition` per listed ICD-10-CM code, a `Procedure` per ICD-10-PCS, CPT or HCPCS code "
    '(README, "FHIR").'
)


@router.post(
    "",
    operation_id="postNote",
    status_code=201,
    response_model=NoteOut,
    summary="Post a note and code it",
    description=(
        "Codes the note synchronously and returns it with its suggestions: **201** for a new "
        "note or a new version (same `external_id`, different text), **200** with the stored "
        "note when the same `external_id` and text were posted before. Send `application/json` "
        "(`NoteIn`) or a FHIR R4 `DocumentReference` with a `text/plain` attachment as "
        "`application/fhir+json` (its first identifier becomes `external_id`, `subject` the "
        "patient, `context.encounter[0]` the encounter; `setting` from the query), alone or in "
        "a `Bundle` (`FhirBundleIn`) with its `Patient` and `Encounter`: the setting from "
        "`Encounter.class` unless `?setting=` is given, the age at the encounter and the sex "
        "from the `Patient`, stored with the note. A Bundle with no DocumentReference, two, or "
        "a reference that does not resolve inside it is a 422 naming the entry. Text: "
        "non-empty, at most 100,000 characters." + _FHIR_NOTE
    ),
    responses={
        200: {
            "model": NoteOut,
            "description": "Same note posted again: the stored version",
            "content": _FHIR_ANSWER,
        },
        201: {"description": "Coded: the new note or version", "content": _FHIR_ANSWER},
        **problem_responses(400, 401, 403, 413, 415, 422, 503),
    },
    openapi_extra=_NOTE_BODY,
)
async def post_note(
    request: Request,
    response: Response,
    principal: NoteWriter,
    services: ServicesDep,
    coder: CoderDep,
    setting: Annotated[
        Literal["inpatient", "outpatient"] | None,
        Query(
            description="Setting for FHIR bodies (JSON bodies carry their own). Default: a "
            "Bundle's Encounter.class, else inpatient."
        ),
    ] = None,
) -> NoteOut | Response:
    note = await read_note(request, setting)
    note_id, created = await run_in_threadpool(
        svc.submit_note, services, coder, note, principal.name, current_request_id()
    )
    status = 201 if created else 200
    headers = {"Location": f"/v1/notes/{note_id}"} if created else {}
    view = await run_in_threadpool(_view, services, note_id, False)
    if wants_fhir(request):
        return _bundle(services, view, status, headers)
    response.status_code = status
    response.headers.update(headers)
    return view


def _view(services: Services, note_id: int, with_text: bool) -> NoteOut:
    with services.db.read() as session:
        note = notes.get_note(session, note_id)
        return views.note_out(session, note, with_text=with_text, engine=services.impact)


def _bundle(
    services: Services, note: NoteOut, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The note as a FHIR R4 Bundle (``application/fhir+json``)."""
    kb = services.kb

    def title(system: str, code: str) -> str | None:
        record = kb.get(System(system), code) if kb is not None else None
        return record.title if record is not None else None

    body = note_bundle(note, title).model_dump_json(exclude_none=True)
    return Response(body, status_code=status, headers=headers, media_type=FHIR_JSON)


@router.get(
    "/{note_id}",
    operation_id="getNote",
    response_model=NoteDetailOut,
    summary="A note: text, versions, suggestions and decided codes",
    description="The note with its text." + _FHIR_NOTE,
    responses={
        200: {"description": "The note", "content": _FHIR_ANSWER},
        **problem_responses(401, 403, 404, 422),
    },
)
def get_note(
    request: Request, note_id: NoteId, principal: NoteReader, services: ServicesDep
) -> NoteOut | Response:
    view = _view(services, note_id, True)
    fhir = wants_fhir(request)
    # the response carries the note's text: who read which version is on record (HIPAA
    # 164.312(b)), written before the text leaves
    with services.db.write() as session:
        audit.append(
            session,
            note_id,
            audit.AuditAction.NOTE_READ,
            principal.name,
            details={
                "version": view.version,
                "route": "GET /v1/notes/{note_id}",
                "format": "fhir" if fhir else "json",
            },
            request_id=current_request_id(),
        )
    return _bundle(services, view) if fhir else view


@router.get(
    "/{note_id}/suggestions",
    operation_id="getSuggestions",
    response_model=SuggestionList,
    summary="A note's suggestions with evidence, status and active decision",
    responses=problem_responses(401, 403, 404, 422),
)
def get_suggestions(note_id: NoteId, _: NoteReader, services: ServicesDep) -> SuggestionList:
    with services.db.read() as session:
        note = notes.get_note(session, note_id)
        return SuggestionList(note_id=note.id, suggestions=views.suggestion_list(session, note))


@router.post(
    "/{note_id}/codes",
    operation_id="addCode",
    status_code=201,
    response_model=DecisionResult,
    summary="Add a code the model missed",
    description="Stored as a suggestion of origin `coder`, status `accepted`, with an `add` "
    "decision carrying the coder (from the key) and reason. The code must be billable and "
    "active; evidence offsets must lie inside the note.",
    dependencies=[Depends(require_json)],
    responses=problem_responses(400, 401, 403, 404, 409, 415, 422, 503),
)
def add_code(
    note_id: NoteId,
    body: AddCodeIn,
    principal: Decider,
    services: ServicesDep,
    kb: KbDep,
) -> DecisionResult:
    suggestion, decision, note = svc.add_code(
        services, kb, note_id, body, principal.name, current_request_id()
    )
    return DecisionResult(
        decision=views.decision_out(decision),
        suggestion=views.suggestion_out(suggestion, note.text, decision),
    )


@router.get(
    "/{note_id}/audit",
    operation_id="getAudit",
    response_model=AuditOut,
    summary="The append-only history of the note",
    responses=problem_responses(401, 403, 404, 422),
)
def get_audit(note_id: NoteId, _: AuditReader, services: ServicesDep) -> AuditOut:
    with services.db.read() as session:
        return AuditOut(note_id=note_id, events=views.history(session, note_id))


@router.put(
    "/{note_id}/principal",
    operation_id="setPrincipal",
    response_model=NoteOut,
    summary="Choose the note's principal diagnosis",
    description="The code must be one of the note's ICD-10-CM codes in effect (accepted, a "
    "replacement, added, or shown and undecided). Stored on the note and audited "
    "(`principal.set`, then `impact.recomputed` with the MS-DRG and HCCs before and after); "
    "the impact then names it with rule `principal.decided`.",
    dependencies=[Depends(require_json)],
    responses=problem_responses(400, 401, 403, 404, 415, 422, 503),
)
def set_principal(
    note_id: NoteId, body: PrincipalIn, principal: Decider, services: ServicesDep
) -> NoteOut:
    svc.set_principal(services, note_id, body, principal.name, current_request_id())
    return _view(services, note_id, False)
