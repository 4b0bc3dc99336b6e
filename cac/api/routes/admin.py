"""``/v1/admin``: operations on the running service (admin keys only)."""

from __future__ import annotations

from fastapi import APIRouter

from cac.api.deps import ModelReloader, ServicesDep
from cac.api.schemas.ops import Reloaded
from cac.api.schemas.problems import problem_responses

router = APIRouter(prefix="/v1/admin", tags=["operations"])


@router.post(
    "/reload",
    operation_id="reloadModels",
    response_model=Reloaded,
    summary="Reload the models (e.g. a newly promoted champion) without downtime",
    description=(
        "Loads the models again as at start-up (for each model the registry's `champion` as it "
        "is now, else the files under `models/`) beside the serving ones, then swaps them in: "
        "requests in flight finish on the old models, later ones use the new. Returns when the "
        "new models serve; notes record the versions that coded them. **409** while another "
        "load runs, **500** when loading fails (the previous models keep serving). `kill -HUP` "
        "on the `cac serve` process does the same."
    ),
    responses=problem_responses(401, 403, 409, 500),
)
def reload_models(_: ModelReloader, services: ServicesDep) -> Reloaded:
    # A plain def runs in a worker thread: the event loop keeps serving during the load.
    done = services.reload()
    return Reloaded(
        previous=done.previous,
        current=done.current,
        seconds=round(done.seconds, 3),
        reloaded_at=done.finished_at,
    )
