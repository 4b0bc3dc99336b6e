"""``/v1/impact``: what-if questions on any code list (nothing is stored)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cac.api import services as svc
from cac.api.deps import CodeReader, KbDep, ServicesDep
from cac.api.impact import impact_out
from cac.api.intake import require_json
from cac.api.schemas.impact import ImpactIn, ImpactOut
from cac.api.schemas.problems import problem_responses

router = APIRouter(prefix="/v1/impact", tags=["impact"])


@router.post(
    "",
    operation_id="computeImpact",
    response_model=ImpactOut,
    summary="What a code list is worth: principal, MS-DRG, CC/MCC, HCCs, RAF, prompts",
    description="The first code is the principal (inpatient) or first-listed (outpatient). "
    "Every code must be billable and active (a 422 names the first that is not). Inpatient "
    "lists are grouped to an MS-DRG (v43.1), provisional without `age` and `sex`; both "
    "settings get CMS-HCC V28 and V24 (the RAF needs age and sex, the disease part does not). "
    "Nothing is stored.",
    dependencies=[Depends(require_json)],
    responses=problem_responses(400, 401, 403, 415, 422, 503),
)
def compute_impact(body: ImpactIn, _: CodeReader, services: ServicesDep, kb: KbDep) -> ImpactOut:
    out = impact_out(svc.what_if(services, kb, body))
    assert out is not None
    return out
