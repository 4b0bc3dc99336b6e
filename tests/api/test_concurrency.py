"""Eight coders deciding on one note at once, over real HTTP (uvicorn in a thread): nothing
acknowledged is lost, and no suggestion ends up with two competing active decisions."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cac.api.app import create_app
from cac.config import Settings
from cac.db.engine import Database
from cac.db.keys import Role, create_key
from cac.db.models import Decision, Suggestion
from cac.kb.store import KnowledgeBase
from tests.api.conftest import FakeCoder, create_keys, live_server, note_text

CLIENTS = 8


def _together(work: Any, count: int = CLIENTS) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, fake_coder: FakeCoder, real_kb: KnowledgeBase
) -> Iterator[tuple[str, dict[str, str], Database]]:
    db = Database(database_url)
    keys = create_keys(db)
    for i in range(CLIENTS):
        keys[f"coder{i}"] = create_key(db, f"coder-{i}", Role.CODER)
    app = create_app(
        Settings(home=tmp_path, database_url=database_url), coder=fake_coder, kb=real_kb
    )
    with live_server(app) as url:
        yield url, keys, db
    db.dispose()


def test_eight_coders_at_once_lose_nothing_and_never_double_decide(
    server: tuple[str, dict[str, str], Database],
) -> None:
    url, keys, db = server
    text = note_text("Pneumonia, diabetes, hypertension, headache; appendectomy; crutches.")
    note = httpx.post(
        f"{url}/v1/notes",
        json={"external_id": "busy", "text": text, "setting": "inpatient"},
        headers={"Authorization": f"Bearer {keys['ehr']}"},
    ).json()
    suggestion_ids = [s["id"] for s in note["suggestions"]]
    assert len(suggestion_ids) == 6

    def decide_all(i: int) -> list[tuple[int, int, dict[str, Any]]]:
        order = suggestion_ids[:]
        random.Random(i).shuffle(order)
        out = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for sid in order:
                action = "accept" if (sid + i) % 3 else "reject"
                r = client.post(
                    f"/v1/suggestions/{sid}/decision",
                    json={"action": action, "reason": f"coder {i}"},
                    headers={"Authorization": f"Bearer {keys[f'coder{i}']}"},
                )
                out.append((sid, r.status_code, r.json()))
        return out

    first_round = [item for result in _together(decide_all) for item in result]

    assert {status for _, status, _ in first_round} <= {201, 409}
    acknowledged = {
        body["decision"]["id"]: body for _, status, body in first_round if status == 201
    }
    for sid in suggestion_ids:
        wins = [b for s, status, b in first_round if s == sid and status == 201]
        assert len(wins) == 1, f"suggestion {sid} took {len(wins)} first decisions"
    with db.read() as session:
        stored = {d.id: d for d in session.scalars(select(Decision))}
        statuses = {s.id: s.status for s in session.scalars(select(Suggestion))}
    assert set(stored) == set(acknowledged)
    for body in acknowledged.values():
        assert statuses[body["decision"]["suggestion_id"]] == body["suggestion"]["status"]

    target = suggestion_ids[0]

    def supersede(i: int) -> tuple[int, dict[str, Any]]:
        r = httpx.post(
            f"{url}/v1/suggestions/{target}/decision",
            json={"action": "accept", "supersede": True, "reason": f"second look {i}"},
            headers={"Authorization": f"Bearer {keys[f'coder{i}']}"},
            timeout=60,
        )
        return r.status_code, r.json()

    second_round = _together(supersede)

    assert {status for status, _ in second_round} <= {201, 409}
    acked = {body["decision"]["id"] for status, body in second_round if status == 201}
    assert acked, "no superseding decision went through"
    with db.read() as session:
        chain = list(
            session.scalars(
                select(Decision).where(Decision.suggestion_id == target).order_by(Decision.sequence)
            )
        )
    assert acked <= {d.id for d in chain}
    assert len(chain) == 1 + len(acked)
    assert [d.sequence for d in chain] == list(range(1, len(chain) + 1))
    for previous, current in itertools.pairwise(chain):
        assert current.supersedes_id == previous.id  # one line of succession, no forks
    audit = httpx.get(
        f"{url}/v1/notes/{note['id']}/audit", headers={"Authorization": f"Bearer {keys['coder']}"}
    ).json()
    audited = {e["decision_id"] for e in audit["events"] if e["decision_id"]}
    assert audited == set(stored) | acked
