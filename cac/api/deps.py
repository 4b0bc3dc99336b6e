"""Typed dependencies for the routes: services, database, coder, knowledge base, principals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security

from cac.api.auth import Permission, Principal, requires
from cac.api.errors import NotReady
from cac.api.state import NoteCoder, Services
from cac.kb.store import KnowledgeBase

_RETRY = {"Retry-After": "5"}


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_coder(services: ServicesDep) -> NoteCoder:
    """The serving coder, read once: a reload swapping it meanwhile does not affect this request."""
    coder = services.coder
    if coder is None:
        raise NotReady(_loading_message(services), headers=_RETRY)
    return coder


def get_kb(services: ServicesDep) -> KnowledgeBase:
    kb = services.kb
    if kb is None:
        raise NotReady(_loading_message(services), headers=_RETRY)
    return kb


def _loading_message(services: Services) -> str:
    if services.load_error:
        return f"the models failed to load ({services.load_error}); see the service log"
    return "the coding models are still loading; retry in a few seconds"


CoderDep = Annotated[NoteCoder, Depends(get_coder)]
KbDep = Annotated[KnowledgeBase, Depends(get_kb)]

NoteWriter = Annotated[Principal, Security(requires(Permission.NOTES_WRITE))]
NoteReader = Annotated[Principal, Security(requires(Permission.NOTES_READ))]
AuditReader = Annotated[Principal, Security(requires(Permission.AUDIT_READ))]
Decider = Annotated[Principal, Security(requires(Permission.DECIDE))]
CodeReader = Annotated[Principal, Security(requires(Permission.CODES_READ))]
Exporter = Annotated[Principal, Security(requires(Permission.EXPORT))]
StatusReader = Annotated[Principal, Security(requires(Permission.STATUS))]
MetricsReader = Annotated[Principal, Security(requires(Permission.METRICS))]
ModelReloader = Annotated[Principal, Security(requires(Permission.RELOAD))]
