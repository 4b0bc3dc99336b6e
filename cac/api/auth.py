"""API keys and roles: ``Authorization: Bearer <key>``; what each role may do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cac.api.errors import Forbidden, Unauthorized
from cac.db import keys
from cac.db.keys import Role


class Permission(StrEnum):
    NOTES_WRITE = "post notes"
    NOTES_READ = "read notes and suggestions"
    AUDIT_READ = "read audit history"
    DECIDE = "decide on suggestions and add codes"
    CODES_READ = "read the code knowledge base"
    EXPORT = "export decisions"
    STATUS = "read service readiness"
    METRICS = "read metrics"
    RELOAD = "reload the models"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.EHR: frozenset({Permission.NOTES_WRITE, Permission.NOTES_READ, Permission.STATUS}),
    Role.CODER: frozenset(
        {
            Permission.NOTES_READ,
            Permission.AUDIT_READ,
            Permission.DECIDE,
            Permission.CODES_READ,
            Permission.STATUS,
        }
    ),
    Role.DATA_SCIENTIST: frozenset(
        {
            Permission.NOTES_READ,
            Permission.AUDIT_READ,
            Permission.CODES_READ,
            Permission.EXPORT,
            Permission.STATUS,
            Permission.METRICS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}

bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `cac keys create --role ROLE --name NAME`.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name (recorded as the actor) and its role."""

    name: str
    role: Role


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in Role if permission in PERMISSIONS[role]]


def requires(permission: Permission) -> Callable[..., Principal]:
    """A dependency that admits a key whose role has ``permission`` (401 / 403 otherwise)."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if credentials is None or not credentials.credentials:
            raise Unauthorized(
                "send an API key as 'Authorization: Bearer <key>'; an admin creates one with "
                "'cac keys create --role ROLE --name NAME'"
            )
        info = keys.authenticate(request.app.state.services.db, credentials.credentials)
        if info is None:
            raise Unauthorized("the API key is unknown or revoked; ask an admin for a valid key")
        request.state.principal = info.name
        if permission not in PERMISSIONS[info.role]:
            allowed = ", ".join(r.value for r in roles_with(permission))
            raise Forbidden(
                f"a key with role {info.role.value} may not {permission.value}; "
                f"this needs one of the roles: {allowed}"
            )
        return Principal(info.name, info.role)

    dependency.__name__ = f"requires_{permission.name.lower()}"
    return dependency
