"""``cac serve`` as a real process: acknowledged decisions survive SIGKILL, and the service log
(of every request, good and bad) holds request ids but no note text."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from cac.db.engine import Database
from cac.pipeline import MAX_TEXT_CHARS
from tests.api.conftest import PHI, create_keys, note_text

TEXT = note_text(
    "History of type 2 diabetes mellitus and essential hypertension. Admitted with community "
    "acquired pneumonia; laparoscopic appendectomy on day 2. Discharged on crutches."
)
PHRASE = "laparoscopic appendectomy on day 2"  # also must not appear in the log


class Service:
    """One ``cac serve`` process, writing its log to ``log``."""

    def __init__(self, home: Path, database_url: str, log: IO[str]) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {**os.environ, "CAC_HOME": str(home), "CAC_DATABASE_URL": database_url}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from cac.cli.main import app; app()",
                "serve",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, key: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "cac serve exited; see its log"
            try:
                r = httpx.get(f"{self.url}/readyz", headers={"Authorization": f"Bearer {key}"})
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise AssertionError("cac serve did not become ready")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


@pytest.fixture
def service_env(
    database_url: str, real_home: Path, tmp_path: Path
) -> Iterator[tuple[Path, str, dict[str, str], Path]]:
    db = Database(database_url)
    keys = create_keys(db)
    db.dispose()
    yield real_home, database_url, keys, tmp_path / "service.log"


def _bad_requests(url: str, headers: dict[str, str]) -> list[int]:
    """Requests that fail, each carrying note text somewhere the service might echo it."""
    statuses = []
    bodies: list[tuple[str, bytes]] = [
        ("application/json", b'{"external_id": "x", "text": "' + TEXT.encode()),
        (
            "application/json",
            json.dumps({"external_id": "x", "text": [TEXT], "setting": "inpatient"}).encode(),
        ),
        (
            "application/json",
            json.dumps({"external_id": "x", "text": TEXT, "setting": TEXT}).encode(),
        ),
        (
            "application/json",
            json.dumps({"external_id": TEXT * 3, "text": TEXT, "setting": "inpatient"}).encode(),
        ),
        (
            "application/json",
            json.dumps(
                {
                    "external_id": "x",
                    "text": TEXT * (MAX_TEXT_CHARS // len(TEXT) + 1),
                    "setting": "inpatient",
                }
            ).encode(),
        ),
        (
            "application/fhir+json",
            json.dumps(
                {
                    "resourceType": "DocumentReference",
                    "identifier": [{"value": "d"}],
                    "content": [{"attachment": {"contentType": "text/plain", "data": TEXT}}],
                }
            ).encode(),
        ),
        ("text/plain", TEXT.encode()),
    ]
    for content_type, body in bodies:
        r = httpx.post(
            f"{url}/v1/notes", content=body, headers={**headers, "Content-Type": content_type}
        )
        statuses.append(r.status_code)
        assert PHI not in r.text
    return statuses


def test_acknowledged_decisions_survive_sigkill_and_the_log_has_no_note_text(
    service_env: tuple[Path, str, dict[str, str], Path],
) -> None:
    home, database_url, keys, log_path = service_env
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    coder = {"Authorization": f"Bearer {keys['coder']}"}
    with log_path.open("a", encoding="utf-8") as log:
        first = Service(home, database_url, log)
        try:
            first.wait_ready(keys["admin"])
            posted = httpx.post(
                f"{first.url}/v1/notes",
                json={"external_id": "durable-1", "text": TEXT, "setting": "inpatient"},
                headers=admin,
                timeout=60,
            )
            assert posted.status_code == 201, posted.text
            note = posted.json()
            request_id = posted.headers["x-request-id"]
            suggestions = note["suggestions"][:6]
            assert len(suggestions) >= 3
            acknowledged: dict[int, dict[str, Any]] = {}
            for i, suggestion in enumerate(suggestions):
                body: dict[str, Any] = {"action": ("accept", "reject")[i % 2], "reason": f"r{i}"}
                r = httpx.post(
                    f"{first.url}/v1/suggestions/{suggestion['id']}/decision",
                    json=body,
                    headers=coder,
                )
                assert r.status_code == 201, r.text
                acknowledged[r.json()["decision"]["id"]] = r.json()["decision"]
            suggested = {s["code"] for s in note["suggestions"]}
            missed = next(c for c in ("Z79.4", "Z91.81", "S42.001A") if c not in suggested)
            added = httpx.post(
                f"{first.url}/v1/notes/{note['id']}/codes",
                json={"system": "icd10cm", "code": missed, "reason": "coder's own code"},
                headers=coder,
            )
            assert added.status_code == 201, added.text
            acknowledged[added.json()["decision"]["id"]] = added.json()["decision"]
            assert all(400 <= s < 500 for s in _bad_requests(first.url, admin))
            searched = httpx.get(
                f"{first.url}/v1/codes/search", params={"q": TEXT[:150]}, headers=admin
            )
            assert searched.status_code == 200  # the query string is never logged either
        finally:
            first.kill()  # SIGKILL right after the last acknowledgement: no clean shutdown

        second = Service(home, database_url, log)
        try:
            second.wait_ready(keys["admin"])
            audit = httpx.get(f"{second.url}/v1/notes/{note['id']}/audit", headers=coder)
            exported = httpx.get(f"{second.url}/v1/exports/decision-rows", headers=admin).json()
            after_restart = httpx.post(
                f"{second.url}/v1/suggestions/{suggestions[0]['id']}/decision",
                json={"action": "reject", "supersede": True},
                headers=coder,
            )
        finally:
            second.stop()

    stored = {d["id"]: d for d in exported["decisions"]}
    assert set(acknowledged) <= set(stored)
    for decision_id, decision in acknowledged.items():
        for field in ("action", "code", "reason", "coder", "suggestion_id"):
            assert stored[decision_id][field] == decision[field]
    audited = {e["decision_id"] for e in audit.json()["events"]}
    assert set(acknowledged) <= audited
    assert after_restart.status_code == 201

    log_text = log_path.read_text(encoding="utf-8")
    assert request_id in log_text  # the log carries the request ids responses carry
    assert '"route": "/v1/notes"' in log_text
    assert PHI not in log_text
    assert PHRASE not in log_text
