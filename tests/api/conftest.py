"""Service tests: an app per test on a fresh SQLite file or PostgreSQL database (both backends),
keys for every role, a small deterministic coder for most tests and the real one where it
matters. Every note text here carries ``PHI``; the service log of the session must not."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cac.api.app import create_app
from cac.api.logs import JsonFormatter, RequestContextFilter
from cac.codesets.records import System
from cac.coding.records import RuleCitation, Suppression
from cac.config import Settings
from cac.db.engine import Database
from cac.db.keys import Role, create_key, revoke_key
from cac.db.migrate import upgrade
from cac.db.models import AuditEvent, Decision, Note, Suggestion
from cac.kb.store import KnowledgeBase
from cac.pipeline import Coder, CodingResult, Demographics, Evidence
from cac.pipeline import Suggestion as CoderSuggestion
from tests.postgres import fresh_database

PHI = "Quokkabrook"  # a surname in every test note; it must never reach a log line
BACKENDS = ["sqlite", "postgres"]


def note_text(body: str = "Admitted with community acquired pneumonia.") -> str:
    return f"Patient Jane {PHI}, 64. {body}"


class FakeCoder:
    """Suggests a fixed code for each keyword present, with the keyword as evidence. Shown codes
    cite the rule that showed them; "fever" beside "pneumonia" is kept back (not shown,
    ``suppressed_by`` the integral-symptom rule, displaced by J18.9); "ckd" is an abbreviation
    and a code that needs specificity, with its billable alternatives; "palpitations" yields
    I49.9 with no evidence (inferred)."""

    model_info: ClassVar[dict[str, str]] = {"pipeline": "fake/1", "kb": "test"}
    KEYWORDS: ClassVar[dict[str, tuple[System, str, str]]] = {
        "pneumonia": (System.ICD10CM, "J18.9", "Pneumonia, unspecified organism"),
        "diabetes": (System.ICD10CM, "E11.9", "Type 2 diabetes mellitus without complications"),
        "hypertension": (System.ICD10CM, "I10", "Essential (primary) hypertension"),
        "appendectomy": (System.ICD10PCS, "0DTJ4ZZ", "Resection of Appendix, Endo"),
        "crutches": (System.HCPCS, "E0110", "Crutches, forearm, pair"),
        "headache": (System.ICD10CM, "R51.9", "Headache, unspecified"),
        "fever": (System.ICD10CM, "R50.9", "Fever, unspecified"),
        "ckd": (System.ICD10CM, "N18.9", "Chronic kidney disease, unspecified"),
        "palpitations": (System.ICD10CM, "I49.9", "Cardiac arrhythmia, unspecified"),
    }
    INFERRED: ClassVar[frozenset[str]] = frozenset({"palpitations"})  # no words state I49.9
    ABBREVIATIONS: ClassVar[frozenset[str]] = frozenset({"ckd"})
    ALTERNATIVES: ClassVar[dict[str, tuple[str, ...]]] = {
        "N18.9": ("N18.1", "N18.2", "N18.30", "N18.4", "N18.5", "N18.6")
    }
    FEVER_KEPT_BACK = Suppression(
        "integral.fever_infection", "I.B.5", "J18.9", "fever is routinely part of an infection"
    )

    def code(
        self, text: str, setting: str = "inpatient", demographics: Demographics | None = None
    ) -> CodingResult:
        suggestions = []
        lower = text.lower()
        for rank, (word, (system, code, title)) in enumerate(self.KEYWORDS.items()):
            start = lower.find(word)
            if start < 0:
                continue
            kind = "abbreviation" if word in self.ABBREVIATIONS else "mention"
            evidence = (Evidence(start, start + len(word), text[start : start + len(word)], kind),)
            if word in self.INFERRED:
                evidence = ()
            confidence = 0.9 - rank / 20
            kept_back = word == "fever" and "pneumonia" in lower
            rationale = (
                ()
                if kept_back
                else (RuleCitation("cut.confidence", "I.A.19", f"confidence {confidence:.2f}"),)
            )
            suggestions.append(
                CoderSuggestion(
                    system,
                    code,
                    title,
                    confidence,
                    evidence,
                    "present",
                    False,
                    code in self.ALTERNATIVES,
                    not kept_back,
                    rationale=rationale,
                    suppressed_by=self.FEVER_KEPT_BACK if kept_back else None,
                    alternatives=self.ALTERNATIVES.get(code, ()),
                )
            )
        return CodingResult(suggestions, [], dict(self.model_info))


class VersionedCoder:
    """A :class:`FakeCoder` that reports a registry version of its ranker, as the real coder
    does (``ranker_source``), and may take ``delay`` seconds per note."""

    def __init__(self, version: int, delay: float = 0.0) -> None:
        self.version = version
        self.delay = delay
        self.model_info = {
            **FakeCoder.model_info,
            "ranker_source": f"registry: cac-ranker v{version}",
        }

    def code(
        self, text: str, setting: str = "inpatient", demographics: Demographics | None = None
    ) -> CodingResult:
        time.sleep(self.delay)
        result = FakeCoder().code(text, setting)
        return CodingResult(result.suggestions, [], dict(self.model_info))


class Releases:
    """A model loader that returns the next champion on every call: v2, v3, ..., each load
    taking ``load_seconds``."""

    def __init__(self, first: int = 2, delay: float = 0.0, load_seconds: float = 0.0) -> None:
        self.next = first
        self.delay = delay
        self.load_seconds = load_seconds
        self.calls = 0

    def __call__(self) -> VersionedCoder:
        self.calls += 1
        time.sleep(self.load_seconds)
        coder = VersionedCoder(self.next, self.delay)
        self.next += 1
        return coder


@dataclass
class Api:
    """A running app (TestClient) with one key per role, plus a revoked one."""

    client: TestClient
    db: Database
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def post_note(
        self,
        text: str | None = None,
        external_id: str = "enc-1/note",
        setting: str = "inpatient",
        role: str = "ehr",
        **extra: Any,
    ) -> httpx.Response:
        body = {"external_id": external_id, "text": text or note_text(), "setting": setting}
        return self.client.post("/v1/notes", json={**body, **extra}, headers=self.auth(role))

    def decide(self, suggestion_id: int, role: str = "coder", **body: Any) -> httpx.Response:
        return self.client.post(
            f"/v1/suggestions/{suggestion_id}/decision", json=body, headers=self.auth(role)
        )

    def counts(self) -> dict[str, int]:
        with self.db.read() as session:
            return {
                model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Note, Suggestion, Decision, AuditEvent)
            }


def create_keys(db: Database) -> dict[str, str]:
    keys = {role.value: create_key(db, f"{role.value}-key", role) for role in Role}
    keys["revoked"] = create_key(db, "old-key", Role.ADMIN)
    revoke_key(db, "old-key")
    return keys


@contextlib.contextmanager
def database(backend: str, tmp: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database URL of the backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'cac.sqlite3'}"
        db = Database(url)
        upgrade(db)
        db.dispose()
        yield url
        return
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        db = Database(url)
        upgrade(db)
        db.dispose()
        yield url


@contextlib.contextmanager
def running_api(url: str, home: Path, coder: Any, kb: KnowledgeBase) -> Iterator[Api]:
    settings = Settings(home=home, database_url=url)
    keys_db = Database(url)
    keys = create_keys(keys_db)
    keys_db.dispose()
    app = create_app(settings, coder=coder, kb=kb)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app.state.services.db, keys)


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn server in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path, request) as url:
        yield url


@pytest.fixture(scope="session")
def fake_coder() -> FakeCoder:
    return FakeCoder()


@pytest.fixture
def api(
    database_url: str, tmp_path: Path, fake_coder: FakeCoder, real_kb: KnowledgeBase
) -> Iterator[Api]:
    with running_api(database_url, tmp_path, fake_coder, real_kb) as running:
        yield running


@pytest.fixture
def real_api(
    database_url: str, tmp_path: Path, real_coder: Coder, real_kb: KnowledgeBase
) -> Iterator[Api]:
    """An app with the real coder."""
    with running_api(database_url, tmp_path, real_coder, real_kb) as running:
        yield running


class _ServiceOnly(logging.Filter):
    """Drops the HTTP client libraries' own lines (the tests' side, not the service's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("httpx", "httpcore"))


@pytest.fixture(scope="session", autouse=True)
def service_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every log record of the in-process service tests, formatted as the service writes them;
    at the end of the session no line may contain note text."""
    path = tmp_path_factory.mktemp("service-log") / "service.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(_ServiceOnly())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield path
    root.removeHandler(handler)
    root.setLevel(previous)
    handler.close()
    assert PHI not in path.read_text(encoding="utf-8"), f"note text reached the log: {path}"
