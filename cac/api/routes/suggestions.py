"""``/v1/suggestions/{id}/decision``: accept, reject or replace a suggestion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from cac.api import services as svc
from cac.api import views
from cac.api.context import current_request_id
from cac.api.deps import Decider, KbDep, ServicesDep
from cac.api.intake import require_json
from cac.api.schemas.decisions import DecisionIn, DecisionResult
from cac.api.schemas.problems import problem_responses

router = APIRouter(prefix="/v1/suggestions", tags=["decisions"])


@router.post(
    "/{suggestion_id}/decision",
    operation_id="decideSuggestion",
    status_code=201,
    response_model=DecisionResult,
    summary="Decide on a suggestion",
    description="Appends a decision (the coder is the key's name). A suggestion takes one "
    'decision: a second one is a **409** unless it sends `"supersede": true`, which makes it '
    "the active decision and keeps both in the audit. A replacement code must be a billable, "
    "active code (`system` defaults to the suggestion's).",
    dependencies=[Depends(require_json)],
    responses=problem_responses(400, 401, 403, 404, 409, 415, 422, 503),
)
def decide(
    suggestion_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: DecisionIn,
    principal: Decider,
    services: ServicesDep,
    kb: KbDep,
) -> DecisionResult:
    decision, suggestion, note = svc.decide(
        services, kb, suggestion_id, body, principal.name, current_request_id()
    )
    return DecisionResult(
        decision=views.decision_out(decision),
        suggestion=views.suggestion_out(suggestion, note.text, decision),
    )
