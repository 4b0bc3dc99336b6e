"""``POST /v1/admin/reload``: a new champion takes over without a failed request, a failed load
keeps the old models serving, only admins may reload, and notes record which models coded them."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cac.api.app import create_app
from cac.api.state import NoteCoder, ReloadInProgressError
from cac.config import Settings
from cac.db.engine import Database
from cac.db.models import Note, Suggestion
from cac.errors import KnowledgeBaseError
from cac.kb.store import KnowledgeBase
from cac.pipeline import Coder
from tests.api.conftest import (
    PHI,
    Releases,
    VersionedCoder,
    create_keys,
    database,
    live_server,
    note_text,
)

RANKER = "ranker_source"


def version(model: dict[str, Any]) -> int:
    """3 for ``registry: cac-ranker v3``."""
    return int(str(model[RANKER]).rsplit("v", 1)[1])


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def reload(self, role: str = "admin") -> httpx.Response:
        return self.client.post("/v1/admin/reload", headers=self.auth(role))

    def post_note(self, external_id: str) -> httpx.Response:
        body = {"external_id": external_id, "text": note_text(), "setting": "inpatient"}
        return self.client.post("/v1/notes", json=body, headers=self.auth("ehr"))


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Reloading does not touch the database: one backend is enough here."""
    with database("sqlite", tmp_path, request) as url:
        yield url


@contextlib.contextmanager
def service(
    url: str, home: Path, kb: KnowledgeBase, load_coder: Any, coder: NoteCoder | None = None
) -> Iterator[Service]:
    """A running app (TestClient) with keys for every role, its first load done."""
    db = Database(url)
    keys = create_keys(db)
    db.dispose()
    settings = Settings(home=home, database_url=url)
    app = create_app(settings, coder=coder, kb=kb, load_coder=load_coder)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.services.wait_loaded(30)
        yield Service(client, keys)


def test_reload_swaps_in_the_new_champion_and_new_notes_record_it(
    sqlite_url: str, tmp_path: Path, real_kb: KnowledgeBase
) -> None:
    releases = Releases()
    with service(sqlite_url, tmp_path, real_kb, releases, VersionedCoder(1)) as api:
        before = api.post_note("before").json()
        reloaded = api.reload()
        after = api.post_note("after").json()
        ready = api.client.get("/readyz", headers=api.auth("ehr")).json()
        shown = api.client.get(f"/v1/notes/{after['id']}", headers=api.auth("coder")).json()
        metrics = api.client.get("/metrics", headers=api.auth("admin")).text

    assert reloaded.status_code == 200, reloaded.text
    body = reloaded.json()
    assert body["previous"][RANKER] == "registry: cac-ranker v1"
    assert body["current"][RANKER] == "registry: cac-ranker v2"
    assert body["seconds"] >= 0 and body["reloaded_at"]
    assert version(before["model"]) == 1
    assert version(after["model"]) == 2
    assert version(ready["models"]) == 2
    assert version(shown["model"]) == 2
    assert shown["suggestions"]
    assert all("registry: cac-ranker v2" in s["model_version"] for s in shown["suggestions"])
    assert 'cac_model_reloads_total{outcome="success"} 1.0' in metrics
    assert releases.calls == 1


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (KnowledgeBaseError("no knowledge base at /nowhere; run 'cac kb build'"), "cac kb build"),
        (RuntimeError(f"weights of {PHI} corrupt"), "RuntimeError while loading the models"),
    ],
    ids=["cac-error", "unexpected-error"],
)
def test_a_failed_reload_keeps_the_previous_models_serving(
    sqlite_url: str, tmp_path: Path, real_kb: KnowledgeBase, error: Exception, shown: str
) -> None:
    def broken() -> NoteCoder:
        raise error

    with service(sqlite_url, tmp_path, real_kb, broken, VersionedCoder(1)) as api:
        failed = api.reload()
        note = api.post_note("still-served")
        ready = api.client.get("/readyz", headers=api.auth("ehr"))
        metrics = api.client.get("/metrics", headers=api.auth("admin")).text

    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    problem = failed.json()
    assert problem["type"] == "urn:cac:problem:model-load-failed"
    assert shown in problem["detail"]
    assert "the previous models keep serving" in problem["detail"]
    assert PHI not in failed.text
    assert note.status_code == 201 and version(note.json()["model"]) == 1
    assert ready.status_code == 200 and version(ready.json()["models"]) == 1
    assert 'cac_model_reloads_total{outcome="failure"} 1.0' in metrics


def test_a_reload_while_another_runs_is_refused_with_409(
    sqlite_url: str, tmp_path: Path, real_kb: KnowledgeBase
) -> None:
    loading, release = threading.Event(), threading.Event()
    releases = Releases()

    def slow() -> NoteCoder:
        loading.set()
        release.wait(30)
        return releases()

    app = create_app(
        Settings(home=tmp_path, database_url=sqlite_url),
        coder=VersionedCoder(1),
        kb=real_kb,
        load_coder=slow,
    )
    services = app.state.services
    keys = create_keys(Database(sqlite_url))
    first: list[Any] = []
    with TestClient(app) as client:
        worker = threading.Thread(target=lambda: first.append(services.reload()))
        worker.start()
        assert loading.wait(30)
        second = client.post(
            "/v1/admin/reload", headers={"Authorization": f"Bearer {keys['admin']}"}
        )
        with pytest.raises(ReloadInProgressError):
            services.reload()
        release.set()
        worker.join(30)

    assert second.status_code == 409
    assert "being loaded already" in second.json()["detail"]
    assert version(first[0].current) == 2
    assert releases.calls == 1
    assert version(services.coder.model_info) == 2


@pytest.mark.parametrize(
    ("role", "status"),
    [("ehr", 403), ("coder", 403), ("data_scientist", 403), ("revoked", 401), (None, 401)],
)
def test_only_admin_keys_may_reload(
    sqlite_url: str, tmp_path: Path, real_kb: KnowledgeBase, role: str | None, status: int
) -> None:
    releases = Releases()
    with service(sqlite_url, tmp_path, real_kb, releases, VersionedCoder(1)) as api:
        headers = api.auth(role) if role else {}
        response = api.client.post("/v1/admin/reload", headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert releases.calls == 0


def test_reload_recovers_a_service_whose_first_load_failed(
    sqlite_url: str, tmp_path: Path, real_kb: KnowledgeBase
) -> None:
    releases = Releases()
    failures = [KnowledgeBaseError("no knowledge base at /nowhere; run 'cac kb build'")]

    def broken_then_fixed() -> NoteCoder:
        if failures:
            raise failures.pop()
        return releases()

    with service(sqlite_url, tmp_path, real_kb, broken_then_fixed) as api:
        not_ready = api.client.get("/readyz", headers=api.auth("ehr"))
        reloaded = api.reload()
        ready = api.client.get("/readyz", headers=api.auth("ehr"))

    assert not_ready.status_code == 503
    assert reloaded.status_code == 200
    assert reloaded.json()["previous"] == {}
    assert ready.status_code == 200 and version(ready.json()["models"]) == 2


def test_the_default_reload_loads_with_coder_load_from_the_configured_kb(
    sqlite_url: str, tmp_path: Path, real_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader of start-up is the loader of reloads: ``Coder.load`` resolves the registry's
    champion on every call (tests/test_registry.py); loading the real models twice here would
    only cost time."""
    calls: list[Path | None] = []

    def load(kb_dir: Path | None = None) -> VersionedCoder:
        calls.append(kb_dir)
        return VersionedCoder(2)

    monkeypatch.setattr(Coder, "load", load)
    with service(sqlite_url, tmp_path, real_kb, None, VersionedCoder(1)) as api:
        reloaded = api.reload()

    assert reloaded.status_code == 200
    assert calls == [Settings(home=tmp_path).kb_dir]


CLIENTS = 4
RELOADS = 3


@dataclass(frozen=True)
class Posted:
    started: float
    finished: float
    status: int
    body: dict[str, Any]


def test_reloads_under_concurrent_posts_fail_no_request_and_notes_record_the_new_models(
    database_url: str, tmp_path: Path, real_kb: KnowledgeBase
) -> None:
    db = Database(database_url)
    keys = create_keys(db)
    ehr = {"Authorization": f"Bearer {keys['ehr']}"}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    # Each note takes a moment to code and each load longer, so reloads overlap requests.
    app = create_app(
        Settings(home=tmp_path, database_url=database_url),
        coder=VersionedCoder(1, delay=0.02),
        kb=real_kb,
        load_coder=Releases(delay=0.02, load_seconds=0.2),
    )
    stop = threading.Event()
    posted: list[list[Posted]] = [[] for _ in range(CLIENTS)]

    def post_until_stopped(i: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=60, headers=ehr) as client:
            n = 0
            while not stop.is_set():
                started = time.monotonic()
                body = {
                    "external_id": f"client-{i}/note-{n}",
                    "text": note_text(f"Pneumonia and diabetes, visit {n}."),
                    "setting": "inpatient",
                }
                try:
                    r = client.post("/v1/notes", json=body)
                    status, answer = r.status_code, r.json()
                except httpx.TransportError:  # a dropped connection is a failed request too
                    status, answer = 0, {}
                posted[i].append(Posted(started, time.monotonic(), status, answer))
                n += 1

    def wait_for_more_posts(count: int) -> None:
        target = sum(len(p) for p in posted) + count
        deadline = time.monotonic() + 60
        while sum(len(p) for p in posted) < target:
            assert time.monotonic() < deadline, "the clients stopped posting"
            time.sleep(0.01)

    reloads: list[tuple[float, float, httpx.Response]] = []
    with live_server(app) as url:
        clients = [
            threading.Thread(target=post_until_stopped, args=(i, url)) for i in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        try:
            with httpx.Client(base_url=url, timeout=60, headers=admin) as operator:
                for _ in range(RELOADS):
                    wait_for_more_posts(2 * CLIENTS)
                    sent = time.monotonic()
                    response = operator.post("/v1/admin/reload")
                    reloads.append((sent, time.monotonic(), response))
                wait_for_more_posts(2 * CLIENTS)
        finally:
            stop.set()
            for thread in clients:
                thread.join(60)

    everything = [p for client in posted for p in client]
    assert len(everything) >= (RELOADS + 1) * 2 * CLIENTS
    assert [p.status for p in everything if p.status != 201] == []  # zero failed requests
    for k, (_, _, response) in enumerate(reloads, start=1):
        assert response.status_code == 200, response.text
        assert (version(response.json()["previous"]), version(response.json()["current"])) == (
            k,
            k + 1,
        )
    for p in everything:
        coded_by = version(p.body["model"])
        for k, (sent, done, _) in enumerate(reloads, start=1):
            if p.started > done:  # posted after reload k answered: its models or newer
                assert coded_by >= k + 1
            if p.finished < sent:  # answered before reload k was asked for: older models
                assert coded_by <= k
    assert {version(p.body["model"]) for p in everything} == set(range(1, RELOADS + 2))

    # What is stored (and audited) says which models coded each note.
    by_id = {p.body["id"]: version(p.body["model"]) for p in everything}
    with db.read() as session:
        notes = {n.id: n for n in session.scalars(select(Note).where(Note.id.in_(by_id)))}
        suggestions = list(session.scalars(select(Suggestion).where(Suggestion.note_id.in_(by_id))))
    db.dispose()
    assert {i: version(n.model) for i, n in notes.items()} == by_id
    assert suggestions
    for s in suggestions:
        assert f"registry: cac-ranker v{by_id[s.note_id]}" in (s.model_version or "")
