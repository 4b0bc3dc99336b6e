"""Coders' decisions and added codes: stored, audited, append-only, one active per suggestion."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, note_text

TEXT = note_text("Pneumonia, diabetes and hypertension; appendectomy planned.")


def _note(api: Api) -> dict[str, Any]:
    response = api.post_note(TEXT)
    assert response.status_code == 201, response.text
    note: dict[str, Any] = response.json()
    return note


def _by_code(note: dict[str, Any]) -> dict[str, int]:
    return {s["code"]: s["id"] for s in note["suggestions"]}


def test_each_kind_of_decision_is_stored_and_in_the_audit(api: Api) -> None:
    note = _note(api)
    ids = _by_code(note)

    accepted = api.decide(ids["J18.9"], action="accept")
    rejected = api.decide(ids["I10"], action="reject", reason="not documented as a diagnosis")
    replaced = api.decide(ids["E11.9"], action="replace", code="e11.65", reason="hyperglycaemia")
    added = api.client.post(
        f"/v1/notes/{note['id']}/codes",
        json={
            "system": "icd10cm",
            "code": "J96.01",
            "evidence": [{"start": 0, "end": 7}],
            "reason": "hypoxia on admission",
        },
        headers=api.auth("coder"),
    )

    assert [r.status_code for r in (accepted, rejected, replaced, added)] == [201] * 4
    assert accepted.json()["suggestion"]["status"] == "accepted"
    assert rejected.json()["suggestion"]["status"] == "rejected"
    replace = replaced.json()["decision"]
    assert (replace["system"], replace["code"], replace["reason"], replace["coder"]) == (
        "icd10cm",
        "E11.65",
        "hyperglycaemia",
        "coder-key",
    )
    add = added.json()
    assert add["suggestion"]["origin"] == "coder"
    assert add["suggestion"]["status"] == "accepted"
    assert add["suggestion"]["evidence"] == [
        {"start": 0, "end": 7, "text": TEXT[:7], "kind": "mention"}
    ]
    assert (add["suggestion"]["rationale"], add["suggestion"]["suppressed_by"]) == ([], None)
    assert (add["decision"]["code"], add["decision"]["reason"]) == (
        "J96.01",
        "hypoxia on admission",
    )

    events = api.client.get(f"/v1/notes/{note['id']}/audit", headers=api.auth("coder")).json()
    actions = [e["action"] for e in events["events"]]
    assert actions == [
        "note.created",
        "note.coded",
        "suggestion.decided",
        "impact.recomputed",
        "suggestion.decided",
        "impact.recomputed",
        "suggestion.decided",
        "impact.recomputed",
        "code.added",
        "impact.recomputed",
    ]
    decided = [e for e in events["events"][2:] if e["action"] != "impact.recomputed"]
    assert [e["details"].get("action") for e in decided[:3]] == ["accept", "reject", "replace"]
    assert decided[1]["details"]["reason"] == "not documented as a diagnosis"
    assert decided[2]["details"]["replacement"] == {"system": "icd10cm", "code": "E11.65"}
    assert decided[3]["details"]["code"] == "J96.01"
    assert all(e["actor"] == "coder-key" for e in decided)
    assert all(e["request_id"] for e in events["events"])

    suggestions = api.client.get(
        f"/v1/notes/{note['id']}/suggestions", headers=api.auth("coder")
    ).json()["suggestions"]
    status = {s["code"]: s["status"] for s in suggestions}
    assert status == {
        "J18.9": "accepted",
        "E11.9": "replaced",
        "I10": "rejected",
        "0DTJ4ZZ": "pending",
        "J96.01": "accepted",
    }


def test_a_second_decision_is_409_unless_it_supersedes(api: Api) -> None:
    ids = _by_code(_note(api))
    first = api.decide(ids["J18.9"], action="accept")
    before = api.counts()

    conflict = api.decide(ids["J18.9"], action="reject")

    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert '"supersede": true' in conflict.json()["detail"]
    assert conflict.json()["current_decision_id"] == first.json()["decision"]["id"]
    assert api.counts() == before

    second = api.decide(ids["J18.9"], action="reject", supersede=True, reason="second look")

    assert second.status_code == 201
    decision = second.json()["decision"]
    assert (decision["sequence"], decision["supersedes"]) == (2, first.json()["decision"]["id"])
    assert second.json()["suggestion"]["status"] == "rejected"
    assert second.json()["suggestion"]["decision"]["id"] == decision["id"]
    exported = api.client.get(
        "/v1/exports/decision-rows", headers=api.auth("data_scientist")
    ).json()
    assert [d["action"] for d in exported["decisions"]] == ["accept", "reject"]
    assert exported["decisions"][0]["suggestion_code"] == "J18.9"


def test_adding_a_code_already_on_the_note_is_409(api: Api) -> None:
    note = _note(api)
    before = api.counts()

    response = api.client.post(
        f"/v1/notes/{note['id']}/codes",
        json={"system": "icd10cm", "code": "J18.9"},
        headers=api.auth("coder"),
    )

    assert response.status_code == 409
    assert "decide on that suggestion" in response.json()["detail"]
    assert api.counts() == before


def test_export_pages_through_decisions(api: Api) -> None:
    ids = _by_code(_note(api))
    for suggestion_id in ids.values():
        assert api.decide(suggestion_id, action="accept").status_code == 201

    first = api.client.get(
        "/v1/exports/decision-rows?limit=3", headers=api.auth("data_scientist")
    ).json()
    rest = api.client.get(
        f"/v1/exports/decision-rows?after={first['next_after']}", headers=api.auth("data_scientist")
    ).json()

    assert len(first["decisions"]) == 3 and len(rest["decisions"]) == 1
    assert rest["next_after"] is None
    assert "text" not in rest["decisions"][0]


def test_accepting_a_suppressed_suggestion_restores_it_and_says_so(api: Api) -> None:
    note = api.post_note(note_text("Pneumonia with fever.")).json()
    ids = _by_code(note)

    restored = api.decide(ids["R50.9"], action="accept", reason="fever out of proportion")
    plain = api.decide(ids["J18.9"], action="accept")

    assert (restored.status_code, plain.status_code) == (201, 201)
    suggestion = restored.json()["suggestion"]
    assert suggestion["status"] == "accepted" and suggestion["shown"] is False
    assert suggestion["suppressed_by"]["rule"] == "integral.fever_infection"
    stored = api.client.get(f"/v1/notes/{note['id']}", headers=api.auth("coder")).json()
    assert {c["code"] for c in stored["final_codes"]} == {"J18.9", "R50.9"}
    events = api.client.get(f"/v1/notes/{note['id']}/audit", headers=api.auth("coder")).json()
    decided = {
        e["suggestion_id"]: e["details"]
        for e in events["events"]
        if e["action"] == "suggestion.decided"
    }
    assert decided[ids["R50.9"]]["restored_suppressed"] == "integral.fever_infection"
    assert "restored_suppressed" not in decided[ids["J18.9"]]
    rows = api.client.get("/v1/exports/decision-rows", headers=api.auth("data_scientist")).json()[
        "decisions"
    ]
    by_code = {r["suggestion_code"]: r for r in rows}
    assert by_code["R50.9"]["restored_suppressed"] is True
    assert by_code["R50.9"]["suggestion_suppressed_by"]["code"] == "J18.9"
    assert by_code["R50.9"]["suggestion_rationale"] == []
    assert by_code["J18.9"]["restored_suppressed"] is False
    assert by_code["J18.9"]["suggestion_suppressed_by"] is None
    assert by_code["J18.9"]["suggestion_rationale"][0]["rule"] == "cut.confidence"


def test_rejecting_a_suppressed_suggestion_is_no_restore(api: Api) -> None:
    note = api.post_note(note_text("Pneumonia with fever.")).json()
    fever = _by_code(note)["R50.9"]

    api.decide(fever, action="reject")
    again = api.decide(fever, action="accept", supersede=True)

    assert again.status_code == 201
    rows = api.client.get("/v1/exports/decision-rows", headers=api.auth("data_scientist")).json()[
        "decisions"
    ]
    assert [(r["action"], r["restored_suppressed"]) for r in rows] == [
        ("reject", False),
        ("accept", True),
    ]
