"""One ASGI middleware around every request: request id, body-size limit, access log, metrics,
and the last-resort 500 problem (so no exception, and no message in it, reaches the server log)."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cac.api.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from cac.api.errors import (
    INTERNAL,
    PayloadTooLarge,
    log_unexpected,
    problem_response,
    to_api_error,
)
from cac.api.metrics import Metrics
from cac.pipeline import MAX_TEXT_CHARS

logger = logging.getLogger("cac.api.access")


class RequestMiddleware:
    """Wraps the app; see the module docstring."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = new_request_id(headers.get(REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                ]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
            return message

        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_bytes:
                await problem_response(self._too_large(), scope["path"])(
                    scope, receive, send_with_id
                )
            else:
                await self.app(scope, limited_receive, send_with_id)
        except Exception as exc:
            error = to_api_error(exc)
            if error.slug == INTERNAL:
                log_unexpected(exc)
            if not state["started"]:
                await problem_response(error, scope["path"])(scope, receive, send_with_id)
        finally:
            self._record(scope, state["status"], time.perf_counter() - start)
            request_id_var.reset(token)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the request body is over {self.max_body_bytes:,} bytes; a note may have at most "
            f"{MAX_TEXT_CHARS:,} characters"
        )

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = _route_template(scope)
        method = scope["method"]
        self.metrics.observe_request(method, route, status, seconds)
        principal = scope.get("state", {}).get("principal")
        logger.info(
            "%s %s %d %.1f ms",
            method,
            route,
            status,
            seconds * 1000,
            extra={
                "http": {
                    "method": method,
                    "route": route,
                    "status": status,
                    "ms": round(seconds * 1000, 1),
                    "key": principal,
                }
            },
        )


def _route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/notes/{note_id}``), never the raw path."""
    route = scope.get("route")
    if route is None:  # plain Starlette routes (/openapi.json, /docs) do not record themselves
        for candidate in getattr(scope.get("app"), "routes", ()):
            if candidate.matches(scope)[0] is Match.FULL:
                route = candidate
                break
    return getattr(route, "path", None) or "unmatched"
