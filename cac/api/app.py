"""The FastAPI application: ``create_app()`` wires database, models, middleware and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import cac
from cac.api import docs, errors, workbench
from cac.api.metrics import Metrics
from cac.api.middleware import RequestMiddleware
from cac.api.routes import admin, codes, exports, health, impact, notes, suggestions
from cac.api.schemas.problems import Problem
from cac.api.state import NoteCoder, Services
from cac.config import Settings, get_settings
from cac.db.engine import Database
from cac.db.migrate import upgrade
from cac.errors import CacError
from cac.kb.store import KnowledgeBase
from cac.pipeline import MAX_TEXT_CHARS

# A note of MAX_TEXT_CHARS characters, JSON-escaped or base64 in FHIR, fits well within this.
MAX_BODY_BYTES = 2 * 1024 * 1024

DESCRIPTION = f"""
Computer-assisted coding of clinical notes: post a note, get ICD-10-CM, ICD-10-PCS, HCPCS and
CPT suggestions with evidence offsets and confidence; coders accept, reject, replace or add
codes, and every action is kept in an append-only audit.

**Authentication**: every route but `/healthz` needs `Authorization: Bearer <key>`. Keys are
created with `cac keys create --role ROLE --name NAME`. Roles: `ehr` (post and read notes),
`coder` (read, decide, add codes, search codes, audit), `data_scientist` (read, audit, codes,
exports, metrics), `admin` (everything, including reloading the models).

**Errors** are RFC 9457 `application/problem+json`; `detail` says what to fix. Every response
carries an `X-Request-ID` header (send your own to correlate), also in the service log.

**Limits**: note text non-empty, at most {MAX_TEXT_CHARS:,} characters (413 above); request
bodies at most {MAX_BODY_BYTES:,} bytes.
"""

TAGS = [
    {"name": "notes", "description": "Post notes, read them, their suggestions and audit."},
    {"name": "decisions", "description": "Coders' decisions on suggestions."},
    {"name": "impact", "description": "MS-DRG, CC/MCC, CMS-HCC and prompts of a code list."},
    {"name": "codes", "description": "The code knowledge base."},
    {"name": "exports", "description": "Audited decisions for retraining."},
    {"name": "operations", "description": "Health, readiness, metrics, model reloads."},
]


def create_app(
    settings: Settings | None = None,
    *,
    coder: NoteCoder | None = None,
    kb: KnowledgeBase | None = None,
    load_coder: Callable[[], NoteCoder] | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Build the app. Without ``coder`` the models load in a background thread at start-up
    (``/readyz`` answers 503 until they are in).

    Args:
        settings: Defaults to the process settings (``CAC_*``).
        coder: A loaded coder to use (tests pass a small one).
        kb: The knowledge base; defaults to the coder's or the one under ``CAC_HOME``.
        load_coder: How to load the coder, at start-up and on every reload; defaults to
            ``Coder.load`` (which resolves the registry's ``champion`` each time).
        migrate: Apply the Alembic migrations at start-up.
    """
    settings = settings or get_settings()
    services = Services(db=Database(settings.database), metrics=Metrics(), coder=coder, kb=kb)

    def open_kb() -> KnowledgeBase:
        return KnowledgeBase.open(settings.kb_dir)

    def default_loader() -> NoteCoder:
        from cac.pipeline import Coder

        return Coder.load(settings.kb_dir)

    # Reloads (POST /v1/admin/reload, SIGHUP) use the loader of start-up, so they pick up a
    # newly promoted champion from the same places.
    loader = services.load_coder = load_coder or default_loader

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await run_in_threadpool(upgrade, services.db)
        if services.impact is None:
            await run_in_threadpool(services.load_impact)
        if services.coder is None:
            services.load_in_background(loader, open_kb)
        elif services.kb is None:
            own = getattr(services.coder, "kb", None)
            services.kb = own if isinstance(own, KnowledgeBase) else open_kb()
        yield
        services.db.dispose()

    app = FastAPI(
        title="cac",
        version=cac.__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    for error_class in (errors.ApiError, CacError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(error_class, errors.handle)
    app.add_middleware(RequestMiddleware, metrics=services.metrics, max_body_bytes=MAX_BODY_BYTES)
    for module in (notes, suggestions, impact, codes, exports, health, admin):
        app.include_router(module.router)
    docs.install(app)
    workbench.install(app, settings)
    app.openapi = _openapi_with_extra_schemas(app)  # type: ignore[method-assign]
    return app


def _openapi_with_extra_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """OpenAPI plus the schemas that only hand-written parts refer to: the note request body
    and the problem+json error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (*notes.EXTRA_SCHEMAS, Problem):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
        return schema

    return openapi
