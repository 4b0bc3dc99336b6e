"""Liveness, readiness while the models load, and a model load that fails."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from cac.api.app import create_app
from cac.config import Settings
from cac.db.engine import Database
from cac.db.migrate import head_revision
from cac.errors import KnowledgeBaseError
from cac.kb.store import KnowledgeBase
from tests.api.conftest import FakeCoder, create_keys, note_text


def test_ready_only_once_the_models_are_loaded(
    database_url: str, tmp_path: Path, real_kb: KnowledgeBase
) -> None:
    release = threading.Event()

    def slow_load() -> FakeCoder:
        release.wait(30)
        return FakeCoder()

    keys = create_keys(Database(database_url))
    auth = {"Authorization": f"Bearer {keys['admin']}"}
    app = create_app(
        Settings(home=tmp_path, database_url=database_url), kb=real_kb, load_coder=slow_load
    )
    with TestClient(app) as client:
        live = client.get("/healthz")
        loading = client.get("/readyz", headers=auth)
        early = client.post(
            "/v1/notes",
            json={"external_id": "e", "text": note_text(), "setting": "inpatient"},
            headers=auth,
        )
        release.set()
        app.state.services.wait_loaded(30)
        ready = client.get("/readyz", headers=auth)

    assert live.status_code == 200
    assert loading.status_code == 503 and loading.headers["retry-after"] == "5"
    assert "still loading" in loading.json()["detail"]
    assert early.status_code == 503
    assert ready.status_code == 200
    assert ready.json()["schema_revision"] == head_revision() == "0005"
    assert ready.json()["database"] in ("sqlite", "postgresql")


def test_a_failed_model_load_shows_in_readyz(database_url: str, tmp_path: Path) -> None:
    def broken_load() -> FakeCoder:
        raise KnowledgeBaseError("no knowledge base at /nowhere; run 'cac kb build'")

    keys = create_keys(Database(database_url))
    app = create_app(Settings(home=tmp_path, database_url=database_url), load_coder=broken_load)
    with TestClient(app) as client:
        app.state.services.wait_loaded(30)
        response = client.get("/readyz", headers={"Authorization": f"Bearer {keys['ehr']}"})

    assert response.status_code == 503
    assert "cac kb build" in response.json()["detail"]
