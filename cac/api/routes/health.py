"""``/healthz`` (liveness, no key), ``/readyz`` (models and database), ``/metrics``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from cac.api.deps import MetricsReader, ServicesDep, StatusReader
from cac.api.errors import NotReady
from cac.api.schemas.ops import Health, Ready
from cac.api.schemas.problems import problem_responses
from cac.db.migrate import current_revision, head_revision

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    operation_id="getHealth",
    response_model=Health,
    summary="Liveness: the process answers",
)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    response_model=Ready,
    summary="Readiness: models loaded, database reachable and migrated",
    responses=problem_responses(401, 403, 503),
)
def readyz(_: StatusReader, services: ServicesDep) -> Ready:
    if services.coder is None or services.kb is None:
        detail = services.load_error or "the coding models are still loading"
        raise NotReady(detail, headers={"Retry-After": "5"})
    try:
        revision = current_revision(services.db)
    except Exception as exc:  # any driver error means "not ready"; its message may hold a URL
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        raise NotReady("the database is unreachable; see the service log") from None
    if revision != head_revision():
        raise NotReady(f"the database schema is at {revision}, not {head_revision()}")
    model = getattr(services.coder, "model_info", None)
    return Ready(
        status="ready",
        database=services.db.dialect,
        schema_revision=revision,
        models=dict(model) if isinstance(model, dict) else {},
    )


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": "cac_notes_coded_total{...} 12.0\n"}},
            "description": "Prometheus text exposition format",
        },
        **problem_responses(401, 403),
    },
)
def metrics(_: MetricsReader, services: ServicesDep) -> Response:
    body, content_type = services.metrics.render()
    return Response(body, media_type=content_type)
