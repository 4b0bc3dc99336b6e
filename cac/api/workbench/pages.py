"""``/workbench``: the coder's pages. Server-rendered Jinja2, updated in place by htmx; every
action goes through the same service functions as ``/v1`` (``cac.api.services``), with the
signed-in key's name as the actor.

Every page and fragment is sent with ``Cache-Control: no-store`` and a Content-Security-Policy
that allows only this origin's scripts and styles (no inline script or style at all). Nothing a
page requests carries note text in its URL: code searches are POSTs, since their words may come
from a selection in the note.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from cac.api import services as svc
from cac.api import views
from cac.api.auth import PERMISSIONS, Permission
from cac.api.context import current_request_id
from cac.api.errors import ApiError, Conflict, Forbidden, InvalidInput, to_api_error
from cac.api.schemas.decisions import AddCodeIn, DecisionIn, SpanIn
from cac.api.state import Services
from cac.api.workbench import render
from cac.api.workbench.session import (
    COOKIE_PATH,
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    Sessions,
    WorkbenchSession,
    same_token,
)
from cac.db import audit, decisions, keys, notes
from cac.db.keys import Role
from cac.db.worklist import WorklistFilter, worklist
from cac.errors import ConflictError
from cac.kb.store import KnowledgeBase

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/workbench", include_in_schema=False)

WORKBENCH_ROLES = (Role.CODER, Role.ADMIN, Role.DATA_SCIENTIST)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
NoteId = Annotated[int, Path(ge=1, le=2**31 - 1)]

templates = Environment(
    loader=PackageLoader("cac.api.workbench", "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["note_text"] = render.note_text
templates.globals["SYSTEMS"] = render.SYSTEMS
templates.globals["SYSTEM_LABELS"] = render.SYSTEM_LABELS


class NotSignedIn(Exception):
    """No valid session: pages redirect to the sign-in form, htmx requests are told to."""


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.workbench_sessions
    return sessions


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def html(
    template: str, context: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    body = templates.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def signed_in(request: Request) -> WorkbenchSession:
    """The request's session, checked: signed, not expired, its key still active."""
    session = _sessions(request).read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NotSignedIn
    info = keys.active_by_id(_services(request).db, session.key_id)
    if info is None or info.role not in WORKBENCH_ROLES:
        raise NotSignedIn
    request.state.principal = session.name
    return session


Coder = Annotated[WorkbenchSession, Depends(signed_in)]


def not_signed_in(request: Request, _: Exception) -> Response:
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={**SECURITY_HEADERS, "HX-Redirect": _LOGIN})
    return RedirectResponse(_LOGIN, status_code=303, headers=SECURITY_HEADERS)


_LOGIN = "/workbench/login"


async def _form(request: Request, session: WorkbenchSession) -> FormData:
    """The posted form, after its CSRF token (field or header) matched the session's.

    Raises:
        ApiError: 403 for a missing or wrong token.
    """
    form = await request.form()
    presented = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD) or "")
    if not same_token(session.csrf, presented):
        error = ApiError("the form is out of date (CSRF token); reload the page and try again")
        error.status, error.slug, error.title = 403, "csrf", "Forbidden"
        raise error
    return form


async def _action_form(
    request: Request, session: WorkbenchSession, permission: Permission
) -> FormData:
    """The posted form of an action, after the CSRF check, if the session's role may do it.

    Raises:
        ApiError: 403 for a bad CSRF token; Forbidden for a role without ``permission``.
    """
    form = await _form(request, session)
    if not _can(session, permission):
        raise Forbidden(f"a key with role {session.role.value} may not {permission.value}")
    return form


def _kb(services: Services) -> KnowledgeBase:
    if services.kb is None:
        raise InvalidInput("the code knowledge base is still loading; retry in a moment")
    return services.kb


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    return text or None


def _can(session: WorkbenchSession, permission: Permission) -> bool:
    return permission in PERMISSIONS[session.role]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


# -- sign-in -------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    try:
        signed_in(request)
        return RedirectResponse("/workbench", status_code=303, headers=SECURITY_HEADERS)
    except NotSignedIn:
        pass
    cookie, csrf = _sessions(request).login_token()
    response = html("login.html", {"csrf": csrf, "error": None})
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    sessions = _sessions(request)
    form = await request.form()
    csrf = sessions.login_csrf(request.cookies.get(LOGIN_COOKIE))
    if not same_token(csrf, str(form.get(CSRF_FIELD) or "")):
        return html(
            "login.html",
            {"csrf": None, "error": "The sign-in form expired; reload the page and sign in."},
            status=403,
        )
    key = str(form.get("api_key") or "").strip()
    services = _services(request)
    info = await run_in_threadpool(keys.authenticate, services.db, key) if key else None
    error = None
    if info is None:
        error = "That API key is unknown or revoked. Ask an admin for a coder key."
    elif info.role not in WORKBENCH_ROLES:
        error = f"A key with role {info.role.value} cannot use the workbench; use a coder key."
    if info is None or error is not None:
        logger.info("workbench sign-in refused")
        return html("login.html", {"csrf": csrf, "error": error}, status=401)
    cookie, _ = sessions.issue(info.id, info.name, info.role)
    response = RedirectResponse("/workbench", status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=sessions.lifetime,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    logger.info("workbench sign-in by key %s", info.name)
    return response


@router.post("/logout")
async def logout(request: Request, session: Coder) -> Response:
    await _form(request, session)
    response = RedirectResponse(_LOGIN, status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


# -- worklist ------------------------------------------------------------------------------


@router.get("")
def worklist_page(
    session: Coder,
    request: Request,
    setting: Annotated[str | None, Query(pattern="^(inpatient|outpatient)?$")] = None,
    system: Annotated[str | None, Query(pattern="^(icd10cm|icd10pcs|cpt|hcpcs)?$")] = None,
    status: Annotated[str, Query(pattern="^(pending|done|all)$")] = "pending",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    f = WorklistFilter(setting=setting or None, system=system or None, status=status, page=page)  # type: ignore[arg-type]
    with _services(request).db.read() as db:
        result = worklist(db, f)
    now = datetime.now(UTC)
    return html(
        "worklist.html",
        {
            "session": session,
            "f": f,
            "result": result,
            "ages": {r.note_id: render.age(r.created_at, now) for r in result.rows},
        },
    )


# -- note page -----------------------------------------------------------------------------


def _note_context(
    services: Services, note_id: int, session: WorkbenchSession, read_route: str | None
) -> dict[str, Any]:
    """What the note page renders; with ``read_route`` the response carries the note's text,
    and a ``note.read`` audit event records who read which version through that route."""
    with services.db.read() as db:
        note = notes.get_note(db, note_id)
        view = views.note_out(db, note, with_text=True, engine=services.impact)
        text = note.text
    if read_route is not None:
        with services.db.write() as db:
            audit.append(
                db,
                note_id,
                audit.AuditAction.NOTE_READ,
                session.name,
                details={"version": view.version, "route": read_route, "format": "html"},
                request_id=current_request_id(),
            )
    with services.db.read() as db:
        history = views.history(db, note_id)
    shape = render.layout(text, view.suggestions)
    codes = {s.id: s.code for s in view.suggestions}
    return {
        "session": session,
        "note": view,
        "layout": shape,
        "audit": [(e, render.audit_line(e, codes)) for e in history],
        "impact": view.impact,
        "can_decide": _can(session, Permission.DECIDE),
        "can_search": _can(session, Permission.CODES_READ),
    }


@router.get("/notes/{note_id}")
def note_page(note_id: NoteId, session: Coder, request: Request) -> Response:
    try:
        context = _note_context(
            _services(request), note_id, session, "GET /workbench/notes/{note_id}"
        )
    except ApiError as exc:
        return _error_page(session, exc)
    except Exception as exc:
        return _error_page(session, to_api_error(exc))
    return html("note.html", context)


def _error_page(session: WorkbenchSession, error: ApiError) -> Response:
    return html("error.html", {"session": session, "error": error}, status=error.status)


def _fragment_error(error: ApiError) -> Response:
    """An htmx answer to a failed action: the message in the page's status area."""
    return html("_status.html", {"error": error.detail, "message": None}, status=error.status)


# -- actions -------------------------------------------------------------------------------


def _updates(
    services: Services,
    session: WorkbenchSession,
    note_id: int,
    *,
    message: str,
    cards: list[int] | None = None,
    conflict: dict[int, str] | None = None,
    whole: bool = False,
    status: int = 200,
) -> Response:
    """Out-of-band fragments after an action: the changed cards (or all suggestions and the
    note text), the audit history, the impact panel and a status message."""
    # the whole note (its text) is sent again only with ``whole``
    read = "POST /workbench (the note re-rendered after an action)" if whole else None
    context = _note_context(services, note_id, session, read)
    by_id = {s.id: s for s in context["note"].suggestions}
    context.update(
        message=message,
        error=None,
        cards=[by_id[i] for i in cards or [] if i in by_id],
        conflict=conflict or {},
        whole=whole,
    )
    return html("_updates.html", context, status=status)


@router.post("/suggestions/{suggestion_id}/decision")
async def decide(suggestion_id: NoteId, session: Coder, request: Request) -> Response:
    services = _services(request)
    try:
        form = await _action_form(request, session, Permission.DECIDE)
        action = _field(form, "action")
        body = DecisionIn.model_validate(
            {
                "action": action,
                "reason": _field(form, "reason"),
                **(
                    {"code": _field(form, "code"), "system": _field(form, "system")}
                    if action == "replace"
                    else {}
                ),
            }
        )
        if body.action == "reject" and not body.reason:
            raise InvalidInput("give a reason for the rejection")
        kb = _kb(services)
        decision, suggestion, _ = await run_in_threadpool(
            svc.decide, services, kb, suggestion_id, body, session.name, current_request_id()
        )
    except (ConflictError, Conflict):
        return await run_in_threadpool(_conflict, services, session, suggestion_id)
    except Exception as exc:
        return _fragment_error(to_api_error(exc))
    verb = {"accept": "Accepted", "reject": "Rejected", "replace": "Replaced"}[decision.action]
    message = f"{verb} {suggestion.code}" + (
        f" with {decision.code}" if decision.action == "replace" else ""
    )
    return await run_in_threadpool(
        lambda: _updates(
            services, session, suggestion.note_id, message=message, cards=[suggestion.id]
        )
    )


def _conflict(services: Services, session: WorkbenchSession, suggestion_id: int) -> Response:
    """Someone decided the suggestion meanwhile: show their decision on the card, keep ours
    unsent, and offer a refresh."""
    with services.db.read() as db:
        suggestion = decisions.get_suggestion(db, suggestion_id)
        current = decisions.latest(db, suggestion_id)
        note_id = suggestion.note_id
    who = (
        f"{current.coder} already chose {current.action}"
        f"{' ' + current.code if current.code else ''}"
        if current is not None
        else "another decision was recorded at the same moment"
    )
    message = f"{suggestion.code}: {who}. Your decision was not saved."
    return _updates(
        services,
        session,
        note_id,
        message=message,
        cards=[suggestion_id],
        conflict={suggestion_id: message},
        status=409,
    )


@router.post("/notes/{note_id}/codes")
async def add_code(note_id: NoteId, session: Coder, request: Request) -> Response:
    services = _services(request)
    try:
        form = await _action_form(request, session, Permission.DECIDE)
        code, system = _field(form, "code"), _field(form, "system")
        if not code or not system:
            raise InvalidInput("search for a code and choose one from the list")
        evidence = []
        start, end = _field(form, "start"), _field(form, "end")
        if start and end:
            if not (start.isdigit() and end.isdigit()):
                raise InvalidInput("the selected evidence is not a pair of offsets")
            evidence.append(SpanIn(start=int(start), end=int(end)))
        body = AddCodeIn(system=system, code=code, evidence=evidence, reason=_field(form, "reason"))
        kb = _kb(services)
        suggestion, _, _ = await run_in_threadpool(
            svc.add_code, services, kb, note_id, body, session.name, current_request_id()
        )
    except Exception as exc:
        return _fragment_error(to_api_error(exc))
    message = f"Added {suggestion.code}"
    return await run_in_threadpool(
        lambda: _updates(services, session, note_id, message=message, whole=True)
    )


@router.post("/codes/search")
async def search_codes(session: Coder, request: Request) -> Response:
    """Type-ahead: the same search as ``GET /v1/codes/search``, as a list to pick from."""
    services = _services(request)
    try:
        form = await _action_form(request, session, Permission.CODES_READ)
        q = (_field(form, "q") or "")[:200]
        system = _field(form, "search_system")
        kb = _kb(services)
        hits = await run_in_threadpool(svc.search_codes, kb, q, system, 8) if q else []
    except Exception as exc:
        return _fragment_error(to_api_error(exc))
    return html("_search_results.html", {"hits": hits, "searched": bool(q)})
