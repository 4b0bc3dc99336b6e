"""``/v1/exports/decisions``: audited decisions for retraining (no note text)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cac.api import views
from cac.api.deps import Exporter, ServicesDep
from cac.api.schemas.decisions import DecisionExportPage
from cac.api.schemas.problems import problem_responses
from cac.db import decisions

router = APIRouter(prefix="/v1/exports", tags=["exports"])


@router.get(
    "/decisions",
    response_model=DecisionExportPage,
    summary="Page through every decision, oldest first",
    responses=problem_responses(401, 403, 422),
)
def export_decisions(
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
