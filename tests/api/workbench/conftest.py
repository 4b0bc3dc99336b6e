"""Workbench fixtures: a real uvicorn server with the small coder and the real knowledge base,
and Debian's chromium driven by Selenium through Debian's chromium-driver (installed here with
apt-get when missing and we are root; the browser tests skip, saying why, only where that
cannot be done)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cac.api.app import create_app
from cac.config import Settings
from cac.db.engine import Database
from cac.db.keys import Role, create_key
from cac.db.migrate import upgrade
from cac.kb.store import KnowledgeBase
from tests.api.conftest import FakeCoder, create_keys, live_server

CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
AXE = Path(__file__).parents[2] / "fixtures" / "axe-core" / "axe.min.js"
AXE_RESULTS: list[tuple[str, int, list[str]]] = []  # (page, violations, serious/critical ids)


def _found(paths: tuple[str, ...]) -> str | None:
    return next((p for p in paths if os.access(p, os.X_OK)), None)


def ensure_chromium() -> tuple[str, str]:
    """``(chromium, chromedriver)``, installing Debian's packages when missing.

    Skips the test, with the reason, where they are missing and cannot be installed.
    """
    browser, driver = _found(CHROMIUM), _found(CHROMEDRIVER)
    if browser and driver:
        return browser, driver
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium and chromium-driver are not installed and this user cannot apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"apt-get could not install chromium: {done.stderr.strip()[-300:]}")
    browser, driver = _found(CHROMIUM), _found(CHROMEDRIVER)
    if not (browser and driver):
        pytest.skip("apt-get installed chromium but its binaries are not where Debian puts them")
    return browser, driver


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    return ensure_chromium()


@pytest.fixture(scope="session")
def new_browser(chromium: tuple[str, str]) -> Iterator[Callable[[], Any]]:
    """A factory of headless chromium sessions (each its own profile: a separate browser
    context with its own cookies); all are quit at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium
    started: list[Any] = []

    def start() -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1440,1000",
            "--force-device-scale-factor=1",
            "--no-first-run",
            "--disable-extensions",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        driver.set_script_timeout(30)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


@dataclass
class Workbench:
    """A live server: its URL, its database, a key per role and two coder keys."""

    url: str
    db: Database
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def post_note(self, external_id: str, text: str, setting: str = "inpatient") -> int:
        r = httpx.post(
            f"{self.url}/v1/notes",
            json={"external_id": external_id, "text": text, "setting": setting},
            headers=self.auth("ehr"),
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def get(self, path: str, role: str = "coder") -> Any:
        r = httpx.get(f"{self.url}{path}", headers=self.auth(role))
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
def workbench(
    tmp_path_factory: pytest.TempPathFactory, real_kb: KnowledgeBase
) -> Iterator[Workbench]:
    home = tmp_path_factory.mktemp("workbench")
    url = f"sqlite:///{home / 'cac.sqlite3'}"
    db = Database(url)
    upgrade(db)
    keys = create_keys(db)
    keys["coder_b"] = create_key(db, "coder-b", Role.CODER)
    app = create_app(Settings(home=home, database_url=url), coder=FakeCoder(), kb=real_kb)
    with live_server(app) as base:
        yield Workbench(base, db, keys)
    db.dispose()


def sign_in(driver: Any, base: str, key: str) -> None:
    """Sign in through the form, as a coder would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/workbench")
    WebDriverWait(driver, 10).until(ec.url_contains("/workbench/login"))
    driver.find_element(By.ID, "api_key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form[action='/workbench/login'] button").click()
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "count")))


def axe_check(driver: Any, page: str) -> list[dict[str, Any]]:
    """Run axe-core in the page; record a summary; return the serious and critical violations."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, "
        "nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', nodes: 0, targets: [String(e)]}]));"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    AXE_RESULTS.append((page, len(result), [f"{v['id']} ({v['impact']})" for v in result]))
    return bad


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not AXE_RESULTS:
        return
    terminalreporter.section("axe-core (workbench pages)")
    for page, count, found in AXE_RESULTS:
        listed = ", ".join(found) if found else "none"
        terminalreporter.write_line(f"{page}: {count} violation rule(s): {listed}")


def console_errors(driver: Any) -> list[str]:
    """Browser console errors (a CSP violation is one), without the favicon's 404."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not re.search(r"favicon\.ico", e["message"])
    ]
