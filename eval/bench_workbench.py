"""``make bench-workbench``: server time of the workbench's note page and of a decision.

A live uvicorn server on loopback (in a thread) with a fresh SQLite database, the real
knowledge base and impact engine (MS-DRG, CMS-HCC) and a synthetic coder that suggests 40 real
codes, each with evidence, on a 2,000-word note. A coder key signs in through the form; then
``--pages`` GETs of ``/workbench/notes/{id}`` and ``--notes`` x 40 decisions (accept / reject /
replace in turn) posted as htmx does. Server time is measured inside the ASGI app (request in to
last body byte out); the loopback round trip seen by the client is reported beside it. Writes
``eval/reports/bench_workbench.json``. A benchmark, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn
from rich.console import Console
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cac.api.app import create_app
from cac.codesets.records import System
from cac.coding.records import RuleCitation
from cac.config import Settings
from cac.db.engine import Database
from cac.db.keys import Role, create_key
from cac.db.migrate import upgrade
from cac.kb.store import KnowledgeBase
from cac.pipeline import CodingResult, Demographics, Evidence, Suggestion

REPORT = Path(__file__).parent / "reports" / "bench_workbench.json"
WORDS = 2000
# 40 billable FY2026 codes: the note states each one's title once.
_CM = (
    "J18.9 E11.9 I10 N18.30 I50.9 J44.9 E78.5 F32.9 K21.9 M54.50 R51.9 E66.9 I48.91 G47.33 "
    "J45.909 N39.0 D64.9 E03.9 K59.00 R06.02 I25.10 F41.9 M17.11 E87.1 R50.9 N17.9 E86.0 "
    "J96.01 A41.9 I21.4 K80.20 G89.29 E11.22 I12.9 J90"
)
_PCS = "0DTJ4ZZ 0FT44ZZ 5A1955Z 0SRC0J9 02703ZZ"
CODES: tuple[tuple[System, str], ...] = (
    *((System.ICD10CM, c) for c in _CM.split(" ")),
    *((System.ICD10PCS, c) for c in _PCS.split(" ")),
)
_FILLER = (
    "the patient was seen on the ward and examined with the team who reviewed the chart "
    "overnight vitals were stable and the plan was discussed with nursing and family today"
)
FILLER = tuple(_FILLER.split(" "))


class BenchCoder:
    """Suggests :data:`CODES`, each with the span of its title in the note as evidence."""

    model_info: ClassVar[dict[str, str]] = {"pipeline": "bench/1", "kb": "real"}

    def __init__(self, titles: dict[tuple[System, str], str]) -> None:
        self.titles = titles

    def code(
        self, text: str, setting: str = "inpatient", demographics: Demographics | None = None
    ) -> CodingResult:
        out = []
        lower = text.lower()
        for rank, ((system, code), title) in enumerate(self.titles.items()):
            start = lower.find(title.lower())
            evidence = (Evidence(start, start + len(title), text[start : start + len(title)]),)
            out.append(
                Suggestion(
                    system,
                    code,
                    title,
                    round(0.95 - rank / 100, 2),
                    evidence,
                    "present",
                    False,
                    False,
                    True,
                    rationale=(RuleCitation("cut.confidence", "I.A.19", "bench"),),
                )
            )
        return CodingResult(out, [], dict(self.model_info))


def note_text(titles: list[str], seed: int) -> str:
    """About :data:`WORDS` words: filler sentences with each title stated once."""
    words: list[str] = []
    per = WORDS // len(titles)
    for i, title in enumerate(titles):
        filler = [FILLER[(seed + i * 7 + j) % len(FILLER)] for j in range(per - len(title.split()))]
        words += [*filler[: len(filler) // 2], title.lower(), *filler[len(filler) // 2 :]]
        words[-1] += "."
    return f"Progress note {seed}.\n" + " ".join(words)


class ServerTime:
    """ASGI wrapper: seconds from a request's arrival to its last body byte, per route kind."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {"page": [], "decision": []}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        kind = "page" if path.startswith("/workbench/notes/") and scope["method"] == "GET" else None
        kind = "decision" if path.endswith("/decision") else kind

        async def timed(message: Message) -> None:
            await send(message)
            if kind and message["type"] == "http.response.body" and not message.get("more_body"):
                self.times[kind].append(time.perf_counter() - start)

        await self.app(scope, receive, timed)


def _stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
    }


def run(pages: int, notes: int) -> dict[str, Any]:
    settings = Settings()
    kb = KnowledgeBase.open(settings.kb_dir)
    titles = {}
    for system, code in CODES:
        record = kb.get(system, code)
        if record is None or not record.billable:
            raise SystemExit(f"{code} is not a billable {system.value} code in the knowledge base")
        titles[(system, code)] = record.title
    home = Path(tempfile.mkdtemp(prefix="cac-bench-workbench-"))
    url = f"sqlite:///{home / 'cac.sqlite3'}"
    db = Database(url)
    upgrade(db)
    ehr, coder = create_key(db, "bench-ehr", Role.EHR), create_key(db, "bench-coder", Role.CODER)
    db.dispose()
    app = create_app(Settings(home=home, database_url=url), coder=BenchCoder(titles), kb=kb)
    timed = ServerTime(app)
    server = uvicorn.Server(
        uvicorn.Config(timed, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    round_trips: dict[str, list[float]] = {"page": [], "decision": []}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            ids = []
            for n in range(notes):
                text = note_text(list(titles.values()), n)
                r = client.post(
                    "/v1/notes",
                    json={"external_id": f"bench/{n}", "text": text, "setting": "inpatient"},
                    headers={"Authorization": f"Bearer {ehr}"},
                )
                r.raise_for_status()
                ids.append(r.json()["id"])
            login = client.get("/workbench/login")
            csrf = _csrf(login.text)
            r = client.post("/workbench/login", data={"api_key": coder, "csrf_token": csrf})
            if r.status_code != 303:
                raise SystemExit(f"sign-in answered {r.status_code}")
            page = client.get(f"/workbench/notes/{ids[0]}")
            csrf = _csrf(page.text)
            words = len(text.split())
            shown = len(re.findall(r'<li id="s-\d+" class="sugg', page.text))
            timed.times["page"].clear()
            for _ in range(pages):
                start = time.perf_counter()
                client.get(f"/workbench/notes/{ids[0]}").raise_for_status()
                round_trips["page"].append(time.perf_counter() - start)
            actions = ("accept", "reject", "replace")
            for note_id in ids:
                suggestions = client.get(
                    f"/v1/notes/{note_id}/suggestions", headers={"Authorization": f"Bearer {coder}"}
                ).json()["suggestions"]
                for i, s in enumerate(suggestions):
                    action = actions[i % 3] if s["system"] == "icd10cm" else "accept"
                    form = {"action": action, "csrf_token": csrf}
                    if action == "reject":
                        form["reason"] = "bench"
                    if action == "replace":
                        form["code"] = "R69" if s["code"] != "R69" else "R68.89"
                    start = time.perf_counter()
                    r = client.post(
                        f"/workbench/suggestions/{s['id']}/decision",
                        data=form,
                        headers={"HX-Request": "true"},
                    )
                    round_trips["decision"].append(time.perf_counter() - start)
                    if r.status_code != 200:
                        raise SystemExit(f"decision answered {r.status_code}")
    finally:
        server.should_exit = True
        thread.join(10)
    return {
        "note": {"words": words, "shown_suggestions": shown},
        "note_page": {
            "server": _stats(timed.times["page"]),
            "round_trip": _stats(round_trips["page"]),
        },
        "decision": {
            "server": _stats(timed.times["decision"]),
            "round_trip": _stats(round_trips["decision"]),
        },
        "targets_ms": {"note_page_p95": 150, "decision_p95": 100},
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
    }


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if found is None:
        raise SystemExit("no CSRF token in the page")
    return found.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="note page loads")
    parser.add_argument("--notes", type=int, default=5, help="notes to decide (40 each)")
    args = parser.parse_args()
    result = run(args.pages, args.notes)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    Console().print_json(json.dumps(result))


if __name__ == "__main__":
    main()
