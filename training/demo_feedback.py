"""The feedback loop end to end, with simulated coders: ``make demo-feedback``.

Everything happens in a sandbox, ``$CAC_HOME/demo-feedback`` (its own service database and
MLflow store; the knowledge base and the ranker's cached feature rows are linked in):

1. **Base model**: a ranker trained on CodiEsp train *without* the folds ``RESERVED`` (its lexicon,
   priors and coded-note memory too), registered as ``cac-ranker`` v1 ``champion``. The reserved
   folds play the hospital's new notes: a base that had seen them would already know their codes.
2. **Service**: ``cac serve`` on a free loopback port, with an EHR (posts notes), a coder, a
   data-scientist and an admin API key.
3. **Coders**: every reserved note is posted; on each *shown* suggestion the simulated coder
   accepts it when it is in the note's CodiEsp gold and rejects it otherwise, then picks the gold
   codes it missed from the unshown alternatives (accepts them) and adds the rest. Gold is read
   by the simulated coders only, after each note is coded.
4. **Export** (``GET /v1/exports/decisions?include_text=true``, as the data scientist).
5. **Retrain** (``python -m training.feedback``): v2, alias ``challenger``, lineage = export hash.
6. **Evaluate** v1 and v2 on CodiEsp dev and on the audited hold-out (notes that never train).
7. **Promote** v2 through the gates (``cac models promote``).
8. **Reload** the running service (``POST /v1/admin/reload``): its answer names the ranker
   version before and after.

Each step prints its figures; a summary is written to ``$CAC_HOME/demo-feedback/summary.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import track

from cac.codesets.records import System, display_code
from cac.config import get_settings
from cac.kb.store import KnowledgeBase
from eval.codiesp import DEFAULT_DIR, load_split
from eval.crosswalk import Crosswalk
from training.ranker import fold_of, product_forms

RESERVED = (3, 4)  # two of the five folds: about 228 notes, 30 % of them in the hold-out
ROLES = ("ehr", "coder", "data_scientist", "admin")
console = Console()
BIN = Path(sys.executable).parent


def sandbox_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAC_", "MLFLOW_"))}
    env.update({"CAC_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    return env


def run(args: list[str], env: dict[str, str], title: str) -> str:
    """Run a step as a subprocess; its output streams through; stdout is also returned."""
    console.rule(title)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.stdout:
        console.print(done.stdout.rstrip(), markup=False, highlight=False)
    if done.returncode != 0:
        raise SystemExit(f"error: step '{title}' failed (exit {done.returncode})")
    console.print(f"[dim]{title}: {time.perf_counter() - start:.0f} s[/dim]")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    base: str, process: subprocess.Popen[bytes], env: dict[str, str], seconds: float = 300
) -> dict[str, str]:
    """Wait for ``/healthz`` (database migrated), create the demo's API keys, then wait for
    ``/readyz`` (models loaded); the keys by role."""
    deadline = time.monotonic() + seconds
    keys: dict[str, str] = {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("error: cac serve exited while starting (see serve.log)")
        try:
            if not keys and httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                keys = {role: key(env, role) for role in ROLES}
            if keys:
                admin = {"Authorization": f"Bearer {keys['admin']}"}
                if httpx.get(f"{base}/readyz", headers=admin, timeout=2).status_code == 200:
                    return keys
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("error: cac serve was not ready in time (see serve.log)")


def key(env: dict[str, str], role: str) -> str:
    out = subprocess.run(
        [str(BIN / "cac"), "keys", "create", "--role", role, "--name", f"demo-{role}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def billable_form(kb: KnowledgeBase, system: System, code: str) -> str:
    """An ICD-10-CM gold code written without its 7th character (CodiEsp's convention) as a
    coder would add it: the initial-encounter code; anything else as it is."""
    record = kb.get(system, code)
    if system is not System.ICD10CM or record is None or record.billable:
        return code
    for child in kb.billable_descendants(system, code, limit=20):
        if "initial encounter" in child.title.lower():
            return child.code
    return code


def simulate_coders(
    client: httpx.Client, kb: KnowledgeBase, keys: dict[str, str]
) -> dict[str, Any]:
    """Post every reserved note and review its shown suggestions against CodiEsp gold."""
    train = load_split(DEFAULT_DIR, "train")
    crosswalk = Crosswalk(kb, [c for codes in train.gold_d.values() for c in codes])
    forms = product_forms(kb, crosswalk)
    to_benchmark = {System.ICD10CM: crosswalk.d, System.ICD10PCS: crosswalk.p}
    ehr = {"Authorization": f"Bearer {keys['ehr']}"}
    headers = {"Authorization": f"Bearer {keys['coder']}"}
    counts = {
        "notes": 0, "shown": 0, "accepted": 0, "rejected": 0, "picked": 0, "added": 0, "refused": 0,
        "unmapped": 0,
    }  # fmt: skip
    refusals: Counter[str] = Counter()
    reserved = sorted(d for d in train.texts if fold_of(d) in RESERVED)
    for doc_id in track(reserved, "coders reviewing notes", console=console):
        posted = client.post(
            "/v1/notes",
            json={"external_id": doc_id, "text": train.texts[doc_id], "setting": "inpatient"},
            headers=ehr,
        )
        posted.raise_for_status()
        note = posted.json()
        counts["notes"] += 1
        gold = {
            System.ICD10CM: {c.lower() for c in train.gold_d.get(doc_id, [])},
            System.ICD10PCS: {c.lower() for c in train.gold_p.get(doc_id, [])},
        }
        found: dict[System, set[str]] = {System.ICD10CM: set(), System.ICD10PCS: set()}
        for s in note["suggestions"]:
            system = System(s["system"])
            if not s["shown"] or system not in gold:
                continue
            counts["shown"] += 1
            mapped = to_benchmark[system](s["code"])
            right = mapped in gold[system] and mapped not in found[system]
            body = {"action": "accept"} if right else {"action": "reject", "reason": "not in gold"}
            client.post(
                f"/v1/suggestions/{s['id']}/decision", json=body, headers=headers
            ).raise_for_status()
            counts["accepted" if right else "rejected"] += 1
            if right:
                found[system].add(mapped)
        for s in note["suggestions"]:  # the coder picks missed codes from the alternatives first
            system = System(s["system"])
            if s["shown"] or system not in gold:
                continue
            mapped = to_benchmark[system](s["code"])
            if mapped in gold[system] and mapped not in found[system]:
                client.post(
                    f"/v1/suggestions/{s['id']}/decision",
                    json={"action": "accept"},
                    headers=headers,
                ).raise_for_status()
                counts["picked"] += 1
                found[system].add(mapped)
        for system, codes in gold.items():
            for code in sorted(codes - found[system]):
                product = forms[system].get(code)
                if product is None:
                    counts["unmapped"] += 1  # a gold code with no current code
                    continue
                product = billable_form(kb, system, product)
                added = client.post(
                    f"/v1/notes/{note['id']}/codes",
                    json={
                        "system": system.value,
                        "code": display_code(system, product),
                        "reason": "missed",
                    },
                    headers=headers,
                )
                if added.status_code == 409:
                    continue  # already on the note (an unshown suggestion)
                if added.status_code in (400, 422):
                    # e.g. a partial ICD-10-PCS code: coders may add billable codes only
                    counts["refused"] += 1
                    refusals[added.json().get("detail", "?")[:80]] += 1
                    continue
                added.raise_for_status()
                counts["added"] += 1
    for reason, n in refusals.most_common(5):
        console.print(f"{n} added codes refused: {reason}")
    return counts


def main() -> None:
    start = time.perf_counter()
    settings = get_settings()
    home = (settings.home / "demo-feedback").resolve()
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    for shared in ("kb", "ranker-rows"):
        source = (settings.home / shared).resolve()
        source.mkdir(parents=True, exist_ok=True)
        (home / shared).symlink_to(source, target_is_directory=True)
    env = sandbox_env(home)
    py, cac = str(BIN / "python"), str(BIN / "cac")
    summary: dict[str, Any] = {"reserved_folds": list(RESERVED)}
    reserve = [arg for fold in RESERVED for arg in ("--reserve-fold", str(fold))]

    run(
        [
            py,
            "-m",
            "training.feedback",
            "--base-only",
            *reserve,
            "--out",
            str(home / "base"),
        ],
        env,
        "1. base model (CodiEsp train without the reserved fold) -> cac-ranker v1 champion",
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    console.rule("2. service")
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [cac, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        keys = wait_ready(base_url, server, env)
        console.print(f"cac serve ready on {base_url}; keys for {', '.join(ROLES)}")
        kb = KnowledgeBase.open(home / "kb")
        with httpx.Client(base_url=base_url, timeout=120) as client:
            console.rule("3. simulated coders")
            summary["review"] = simulate_coders(client, kb, keys)
            console.print_json(json.dumps(summary["review"]))

            console.rule("4. export (with text, audited)")
            export = home / "export.jsonl"
            with client.stream(
                "GET",
                "/v1/exports/decisions",
                params={"include_text": "true"},
                headers={"Authorization": f"Bearer {keys['data_scientist']}"},
            ) as response:
                response.raise_for_status()
                with export.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
            records = sum(1 for line in export.open(encoding="utf-8") if line.strip())
            console.print(f"{records} note records -> {export}")
            summary["export_records"] = records

            run(
                [
                    py,
                    "-m",
                    "training.feedback",
                    "--export",
                    str(export),
                    *reserve,
                    "--out",
                    str(home / "challenger"),
                ],
                env,
                "5. retrain on the export -> cac-ranker v2 challenger",
            )
            figures = {}
            for version in (1, 2):
                out = run(
                    [
                        cac,
                        "models",
                        "evaluate",
                        "cac-ranker",
                        "--version",
                        str(version),
                        "--audited",
                        str(export),
                        "--json",
                    ],
                    env,
                    f"6. evaluate cac-ranker v{version} (CodiEsp dev, audited hold-out)",
                )
                figures[version] = json.loads(out[out.index("{") :])["figures"]
            summary["figures"] = figures
            promote = subprocess.run(
                [cac, "models", "promote", "cac-ranker", "2", "--audited", str(export)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            console.rule("7. promote v2 through the gates")
            console.print((promote.stdout + promote.stderr).strip(), markup=False)
            summary["promoted"] = promote.returncode == 0

            console.rule("8. reload the running service")
            admin = {"Authorization": f"Bearer {keys['admin']}"}
            reloaded = client.post("/v1/admin/reload", headers=admin)
            console.print(f"POST /v1/admin/reload -> {reloaded.status_code}")
            summary["reload"] = reloaded.json()
            console.print_json(json.dumps(summary["reload"]))
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    summary["seconds"] = round(time.perf_counter() - start)
    (home / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    console.rule("summary")
    for version, f in summary["figures"].items():
        console.print(
            f"v{version}: dev D MAP {f.get('dev.D.map', float('nan')):.3f}, "
            f"dev P MAP {f.get('dev.P.map', float('nan')):.3f}, "
            f"audited hold-out MAP {f.get('audited.all.map', float('nan')):.3f}"
        )
    console.print(f"promoted: {summary['promoted']}; {summary['seconds']} s in all")


if __name__ == "__main__":
    main()
