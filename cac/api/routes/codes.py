"""``/v1/codes``: search and look up the code knowledge base."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cac.api import services as svc
from cac.api.deps import CodeReader, KbDep
from cac.api.schemas.codes import CodeOut, CodeSearchOut, SystemName
from cac.api.schemas.problems import problem_responses

router = APIRouter(prefix="/v1/codes", tags=["codes"])


@router.get(
    "/search",
    operation_id="searchCodes",
    response_model=CodeSearchOut,
    summary="Search code titles and synonyms",
    responses=problem_responses(401, 403, 422, 503),
)
def search(
    _: CodeReader,
    kb: KbDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words to search for.")],
    system: Annotated[
        SystemName | None, Query(description="icd10cm, icd10pcs, hcpcs or cpt (default: all).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> CodeSearchOut:
    return CodeSearchOut(query=q, results=svc.search_codes(kb, q, system, limit))


@router.get(
    "/{system}/{code}",
    operation_id="getCode",
    response_model=CodeOut,
    summary="One code: title, flags, parent, children, notes",
    responses=problem_responses(401, 403, 404, 422, 503),
)
def get_code(
    system: SystemName,
    code: Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9.]+$")],
    _: CodeReader,
    kb: KbDep,
) -> CodeOut:
    return svc.code_detail(kb, system, code)
