"""The role matrix: every endpoint × every role, plus no key, a wrong key and a revoked key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cac.kb.store import KnowledgeBase
from tests.api.conftest import BACKENDS, Api, FakeCoder, database, note_text, running_api

ROLES = ["ehr", "coder", "data_scientist", "admin"]
EVERYONE = set(ROLES)

# (method, path, JSON body, roles allowed). {note} and {suggestion} are filled in per backend,
# {hcpcs} per role (a code can be added to a note once).
HCPCS = {"ehr": "E0100", "coder": "E0105", "data_scientist": "E0112", "admin": "E0114"}
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    (
        "POST",
        "/v1/notes",
        {"external_id": "e", "text": note_text(), "setting": "inpatient"},
        {"ehr", "admin"},
    ),
    ("GET", "/v1/notes/{note}", None, EVERYONE),
    ("GET", "/v1/notes/{note}/suggestions", None, EVERYONE),
    ("GET", "/v1/notes/{note}/audit", None, {"coder", "data_scientist", "admin"}),
    (
        "POST",
        "/v1/suggestions/{suggestion}/decision",
        {"action": "accept", "supersede": True},
        {"coder", "admin"},
    ),
    ("POST", "/v1/notes/{note}/codes", {"system": "hcpcs", "code": "{hcpcs}"}, {"coder", "admin"}),
    (
        "GET",
        "/v1/codes/search?q=pneumonia&system=hcpcs",
        None,
        {"coder", "data_scientist", "admin"},
    ),
    ("GET", "/v1/codes/icd10cm/J18.9", None, {"coder", "data_scientist", "admin"}),
    ("GET", "/v1/exports/decisions", None, {"data_scientist", "admin"}),
    ("GET", "/v1/exports/decisions?include_text=true", None, {"data_scientist", "admin"}),
    ("GET", "/v1/exports/decision-rows", None, {"data_scientist", "admin"}),
    ("GET", "/readyz", None, EVERYONE),
    ("GET", "/metrics", None, {"data_scientist", "admin"}),
]


@pytest.fixture(scope="module", params=BACKENDS)
def shared_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_coder: FakeCoder,
    real_kb: KnowledgeBase,
) -> Iterator[tuple[Api, dict[str, int]]]:
    home: Path = tmp_path_factory.mktemp("roles")
    with (
        database(request.param, home, request) as url,
        running_api(url, home, fake_coder, real_kb) as api,
    ):
        note = api.post_note(note_text("Pneumonia.")).json()
        yield api, {"note": note["id"], "suggestion": note["suggestions"][0]["id"]}


def _call(api: Api, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return api.client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS]
)
def test_role_matrix(
    shared_api: tuple[Api, dict[str, int]],
    role: str,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    api, ids = shared_api
    if body and body.get("code") == "{hcpcs}":
        body = {**body, "code": HCPCS[role]}
    response = _call(api, method, path.format(**ids), body, api.auth(role))

    if role in allowed:
        assert response.status_code in (200, 201), response.text
    else:
        assert response.status_code == 403, response.text
        assert role in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS]
)
@pytest.mark.parametrize(
    "credentials",
    [None, "Bearer cac_not-a-key", "Basic dXNlcjpwYXNz", "revoked"],
    ids=["no key", "unknown key", "basic auth", "revoked key"],
)
def test_without_a_valid_key_every_endpoint_is_401(
    shared_api: tuple[Api, dict[str, int]],
    credentials: str | None,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    api, ids = shared_api
    headers = {}
    if credentials == "revoked":
        headers = api.auth("revoked")
    elif credentials:
        headers = {"Authorization": credentials}
    before = api.counts()

    response = _call(api, method, path.format(**ids), body, headers)

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert api.counts() == before


def test_healthz_needs_no_key(shared_api: tuple[Api, dict[str, int]]) -> None:
    api, _ = shared_api
    response = api.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
