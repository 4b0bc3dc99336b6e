"""SIGHUP reloads the models: the handler in this process, and a served app in its own process
(``cac.cli.serve.run``, as ``cac serve`` runs it, with a small coder instead of the real one)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cac.api.metrics import Metrics
from cac.api.signals import reload_on_sighup
from cac.api.state import NoteCoder, Services
from cac.db.engine import Database
from tests.api.conftest import Releases, VersionedCoder, create_keys, database
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")


def eventually(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database("sqlite", tmp_path, request) as url:
        yield url


def make_services(url: str, load_coder: Callable[[], NoteCoder]) -> Services:
    return Services(
        db=Database(url), metrics=Metrics(), coder=VersionedCoder(1), load_coder=load_coder
    )


def test_sighup_reloads_in_the_background_and_the_old_handler_comes_back(
    sqlite_url: str,
) -> None:
    services = make_services(sqlite_url, Releases())
    before = signal.getsignal(signal.SIGHUP)
    restore = reload_on_sighup(services)
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        eventually(lambda: services.last_reload is not None)
    finally:
        restore()
        services.db.dispose()

    assert signal.getsignal(signal.SIGHUP) == before
    assert services.coder is not None
    assert services.coder.model_info["ranker_source"] == "registry: cac-ranker v2"  # type: ignore[attr-defined]


def test_a_second_sighup_during_a_reload_is_ignored(sqlite_url: str) -> None:
    loading, release = threading.Event(), threading.Event()
    releases = Releases()

    def slow() -> NoteCoder:
        loading.set()
        release.wait(30)
        return releases()

    services = make_services(sqlite_url, slow)

    def refused() -> float | None:
        sample = services.metrics.registry.get_sample_value
        return sample("cac_model_reloads_total", {"outcome": "busy"})

    restore = reload_on_sighup(services)
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert loading.wait(30)
        os.kill(os.getpid(), signal.SIGHUP)
        eventually(lambda: refused() == 1)
        release.set()
        eventually(lambda: services.last_reload is not None)
    finally:
        release.set()
        restore()
        services.db.dispose()

    assert releases.calls == 1


# A served app, as `cac serve` serves it, but with a coder that loads in no time.
SERVE = """
import sys
from cac.api import logs
from cac.api.app import create_app
from cac.cli.serve import run
from cac.config import Settings
from tests.api.conftest import Releases, VersionedCoder

home, url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
logs.configure("info")
app = create_app(
    Settings(home=home, database_url=url), coder=VersionedCoder(1), load_coder=Releases()
)
run(app, "127.0.0.1", port, "info")
"""


def test_kill_hup_on_a_served_app_reloads_its_models(
    sqlite_url: str, real_home: Path, tmp_path: Path
) -> None:
    db = Database(sqlite_url)
    key = create_keys(db)["ehr"]
    db.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"

    def models() -> dict[str, str] | None:
        try:
            r = httpx.get(f"{url}/readyz", headers={"Authorization": f"Bearer {key}"})
        except httpx.TransportError:
            return None
        return r.json()["models"] if r.status_code == 200 else None

    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(real_home), sqlite_url, str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            eventually(lambda: process.poll() is not None or models() is not None, timeout=120)
            assert process.poll() is None, log.read_text(encoding="utf-8")
            first = models()
            process.send_signal(signal.SIGHUP)
            eventually(lambda: (models() or {}).get("ranker_source") != first["ranker_source"])
            second = models()
            process.send_signal(signal.SIGTERM)
            # SIGTERM still stops it: uvicorn shuts down, then re-raises the signal it caught.
            assert process.wait(30) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(30)

    assert first is not None and first["ranker_source"] == "registry: cac-ranker v1"
    assert second is not None and second["ranker_source"] == "registry: cac-ranker v2"
    text = log.read_text(encoding="utf-8")
    assert "SIGHUP: reloading the models" in text
    assert "models reloaded" in text and "cac-ranker v1 -> registry: cac-ranker v2" in text
