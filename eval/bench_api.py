"""``make bench-api``: CodiEsp dev notes posted to ``cac serve`` on loopback by concurrent clients.

Starts ``cac serve`` as its own process on a free port with a fresh SQLite database (or
``--database-url``), creates an ``ehr`` key, waits for ``/readyz``, then runs ``--clients``
threads that each post the next dev note (a new external id every time, so every post is
coded) for ``--seconds``. Reports notes/s, p50/p95/max latency and errors to
``eval/reports/bench_api.json``. A benchmark, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from cac.db.engine import Database
from cac.db.keys import Role, create_key
from cac.db.migrate import upgrade
from eval.codiesp import DEFAULT_DIR, load_texts

REPORT = Path(__file__).parent / "reports" / "bench_api.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, key: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise SystemExit("cac serve exited before it was ready; see its log")
        try:
            r = httpx.get(f"{url}/readyz", headers={"Authorization": f"Bearer {key}"})
            if r.status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"cac serve was not ready after {timeout:.0f} s")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(seconds: float, clients: int, database_url: str | None, log_path: Path) -> dict[str, Any]:
    texts = list(load_texts(DEFAULT_DIR, "dev").values())
    workdir = Path(tempfile.mkdtemp(prefix="cac-bench-api-"))
    url_db = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    db = Database(url_db)
    upgrade(db)
    key = create_key(db, f"bench-{uuid.uuid4().hex[:8]}", Role.EHR)
    admin = create_key(db, f"bench-admin-{uuid.uuid4().hex[:8]}", Role.ADMIN)
    db.dispose()
    port = _free_port()
    env = {**os.environ, "CAC_DATABASE_URL": url_db}
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from cac.cli.main import app; app()",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            ready_seconds = _wait_ready(base, key, server, 300)
            models = httpx.get(f"{base}/readyz", headers={"Authorization": f"Bearer {key}"})
            load = _load(base, key, texts, seconds, clients)
            metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {admin}"})
            return {
                "ready_seconds": round(ready_seconds, 1),
                "models": models.json()["models"],
                **load,
                **_server_side(metrics.text),
            }
        finally:
            server.terminate()
            server.wait(30)
            shutil.rmtree(workdir, ignore_errors=True)


def _load(base: str, key: str, texts: list[str], seconds: float, clients: int) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    serial = count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {key}"}

    def post(client: httpx.Client) -> tuple[float, str | None]:
        n = next(serial)
        body = {
            "external_id": f"{run_id}-{n}",
            "text": texts[n % len(texts)],
            "setting": "inpatient",
        }
        start = time.perf_counter()
        try:
            r = client.post("/v1/notes", json=body, headers=headers)
            problem = None if r.status_code == 201 else str(r.status_code)
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        return time.perf_counter() - start, problem

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            post(client)  # warm-up, not counted
            started.wait()
            while not stop.is_set():
                elapsed, problem = post(client)
                with lock:
                    if problem is None:
                        latencies.append(elapsed)
                    else:
                        errors[problem] = errors.get(problem, 0) + 1

    started, stop = threading.Barrier(clients + 1), threading.Event()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    started.wait()
    start = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()  # requests in flight at the deadline finish and count
    wall = time.perf_counter() - start
    done = len(latencies)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "notes_coded": done,
        "notes_per_second": round(done / wall, 2),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1) if done else None,
        "latency_p95_ms": round(_percentile(latencies, 0.95) * 1000, 1) if done else None,
        "latency_max_ms": round(max(latencies) * 1000, 1) if done else None,
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "mean_note_chars": round(statistics.mean(len(t) for t in texts)),
    }


def _server_side(exposition: str) -> dict[str, float]:
    """Mean time in the coding pipeline vs. mean time of a 201 ``POST /v1/notes``, as the
    service measured them (warm-up posts included): the difference is the service's own cost."""
    values: dict[str, float] = {}
    for line in exposition.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("cac_coding_duration_seconds_") or (
            name.startswith("cac_http_request_duration_seconds_")
            and 'route="/v1/notes"' in name
            and 'status="201"' in name
        ):
            values[name.split("{")[0]] = float(value)
    coding = values["cac_coding_duration_seconds_sum"] / values["cac_coding_duration_seconds_count"]
    request = (
        values["cac_http_request_duration_seconds_sum"]
        / values["cac_http_request_duration_seconds_count"]
    )
    return {
        "server_mean_request_ms": round(request * 1000, 1),
        "server_mean_coding_ms": round(coding * 1000, 1),
        "server_mean_overhead_ms": round((request - coding) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--log", type=Path, default=Path(tempfile.gettempdir()) / "cac-bench-api.log"
    )
    args = parser.parse_args()
    console = Console()
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "database": "postgresql" if args.database_url else "sqlite",
        **run(args.seconds, args.clients, args.database_url, args.log),
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print_json(json.dumps(result))
    console.print(f"service log: {args.log}")


if __name__ == "__main__":
    main()
