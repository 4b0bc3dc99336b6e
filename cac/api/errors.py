"""Errors as RFC 9457 problem details (``application/problem+json``), from one mapping.

Every message says what to fix and never repeats the request body: bodies carry note text.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cac.api.context import current_request_id
from cac.errors import (
    CacError,
    ConflictError,
    KnowledgeBaseError,
    ModelLoadError,
    NotFoundError,
    UnknownCodeError,
    UnknownSystemError,
)
from cac.pipeline import CodingInputError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:cac:problem:"
INTERNAL = "internal"  # the slug of errors nobody raised on purpose: logged with their frames


class ApiError(Exception):
    """An error with its HTTP status; ``errors`` lists field-level problems."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidJson(ApiError):
    slug, title = "invalid-json", "The body is not valid JSON"


class Unauthorized(ApiError):
    status, slug, title = 401, "unauthorized", "Missing or invalid API key"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, slug, title = 403, "forbidden", "The API key's role does not allow this"


class NotFound(ApiError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ApiError):
    status, slug, title = 409, "conflict", "Conflict with the stored state"


class PayloadTooLarge(ApiError):
    status, slug, title = 413, "payload-too-large", "The note or request is too large"


class UnsupportedMediaType(ApiError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"


class InvalidInput(ApiError):
    status, slug, title = 422, "invalid-input", "The request is not valid"


class NotReady(ApiError):
    status, slug, title = 503, "not-ready", "The service is not ready"


class ModelsNotLoaded(ApiError):
    status, slug, title = 500, "model-load-failed", "The models could not be loaded"


def field_errors(errors: list[Any], drop_prefix: bool = False) -> list[dict[str, str]]:
    """``[{"field": "body.text", "message": ...}]`` from pydantic errors, without their input."""
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if drop_prefix and loc and loc[0] == "body":
            loc = loc[1:]
        out.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", ""))})
    return out


def summarize(errors: list[dict[str, str]]) -> str:
    parts = [f"{e['field']}: {e['message']}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def to_api_error(exc: Exception) -> ApiError:
    """The one mapping from anything raised while serving a request to a problem."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        raw = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in raw):
            reason = next(e for e in raw if e.get("type") == "json_invalid").get("ctx", {})
            return InvalidJson(
                f"the body is not valid JSON ({reason.get('error', 'decode error')}); "
                "send a JSON object"
            )
        errors = field_errors(raw)
        return InvalidInput(summarize(errors), errors=errors)
    if isinstance(exc, ValidationError):
        errors = field_errors(exc.errors(include_input=False, include_url=False))
        return InvalidInput(summarize(errors), errors=errors)
    if isinstance(exc, StarletteHTTPException):
        error = ApiError(str(exc.detail), headers=dict(exc.headers or {}))
        error.status = exc.status_code
        error.slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        error.title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        if exc.status_code == 404:
            error.detail = "no such resource; see /docs for the routes"
        return error
    if isinstance(exc, NotFoundError):
        return NotFound(str(exc))
    if isinstance(exc, ConflictError):
        extra = {}
        current = getattr(exc, "current_decision_id", None)
        if current is not None:
            extra["current_decision_id"] = current
        return Conflict(str(exc), extra=extra)
    if isinstance(exc, CodingInputError | UnknownSystemError | UnknownCodeError):
        return InvalidInput(str(exc))
    if isinstance(exc, KnowledgeBaseError):
        return NotReady(str(exc))
    if isinstance(exc, ModelLoadError):
        return ModelsNotLoaded(f"{exc}; see the service log")
    if isinstance(exc, CacError):
        return ApiError(str(exc))
    error = ApiError("an unexpected error occurred; the request id identifies it in the logs")
    error.status, error.slug, error.title = 500, INTERNAL, "Internal server error"
    return error


def problem_response(error: ApiError, instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if instance:
        body["instance"] = instance
    body["request_id"] = current_request_id()
    if error.errors:
        body["errors"] = error.errors
    body.update(error.extra)
    return JSONResponse(
        body, status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )


async def handle(request: Request, exc: Exception) -> JSONResponse:
    """The exception handler the app registers for every error class it maps."""
    error = to_api_error(exc)
    if error.slug == INTERNAL:
        log_unexpected(exc)
    return problem_response(error, request.url.path)


def log_unexpected(exc: BaseException) -> None:
    """Log where an unexpected error happened: its class and frames, never its message,
    which may quote note text (a validation error, a database parameter)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}")
        tb = tb.tb_next
    logger.error("unhandled %s at %s", type(exc).__name__, " <- ".join(reversed(frames[-6:])))
