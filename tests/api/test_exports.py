"""``GET /v1/exports/decisions``: JSON Lines that validate against the shipped schema, note text
only with ``include_text=true`` (audited per note, under the key's name), data_scientist and
admin only."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from cac.api.routes import exports
from cac.exports import decisions as export
from tests.api.conftest import PHI, Api, note_text

URL = "/v1/exports/decisions"
TEXT = note_text("Pneumonia and diabetes.")


def _reviewed_note(api: Api) -> dict[str, Any]:
    note: dict[str, Any] = api.post_note(TEXT).json()
    for suggestion in note["suggestions"]:
        assert api.decide(suggestion["id"], action="accept").status_code == 201
    api.post_note(note_text("Headache."), external_id="enc-2/note")  # never reviewed
    return note


def _records(body: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.splitlines()]


def _audit_actions(api: Api, note_id: int) -> list[dict[str, Any]]:
    events = api.client.get(f"/v1/notes/{note_id}/audit", headers=api.auth("admin")).json()
    return [e for e in events["events"] if e["action"] == "note.text_exported"]


def test_the_export_streams_schema_valid_records_without_text(api: Api) -> None:
    note = _reviewed_note(api)
    before = api.counts()

    response = api.client.get(URL, headers=api.auth("data_scientist"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    [record] = _records(response.text)
    jsonschema.validate(record, export.schema())
    assert record["note_id"] == note["id"]
    assert {s["code"] for s in record["suggestions"]} == {"J18.9", "E11.9"}
    assert all(s["decisions"][0]["coder"] == "coder-key" for s in record["suggestions"])
    assert "text" not in record and PHI not in response.text
    assert api.counts() == before  # nothing audited, nothing written


def test_include_text_adds_the_text_and_audits_each_note_under_the_key(api: Api) -> None:
    note = _reviewed_note(api)

    response = api.client.get(
        URL, params={"include_text": "true"}, headers=api.auth("data_scientist")
    )

    assert response.status_code == 200
    [record] = _records(response.text)
    jsonschema.validate(record, export.schema())
    assert record["text"] == TEXT
    [event] = _audit_actions(api, note["id"])
    assert event["actor"] == "data_scientist-key"
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["details"] == {
        "export_id": record["export_id"],
        "format": export.FORMAT,
        "via": "api",
    }
    assert PHI not in json.dumps(event)


def test_since_filters_and_a_bad_one_is_a_problem(api: Api) -> None:
    _reviewed_note(api)
    auth = api.auth("data_scientist")

    everything = api.client.get(URL, params={"since": "2000-01-01"}, headers=auth)
    nothing = api.client.get(URL, params={"since": "2999-01-01T00:00:00Z"}, headers=auth)
    bad = api.client.get(URL, params={"since": "last week"}, headers=auth)

    assert len(_records(everything.text)) == 1
    assert (nothing.status_code, nothing.text) == (200, "")
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert "2026-11-27" in bad.json()["detail"]
    assert bad.json()["errors"][0]["field"] == "query.since"


@pytest.mark.parametrize(
    ("role", "status"),
    [("data_scientist", 200), ("admin", 200), ("coder", 403), ("ehr", 403), (None, 401)],
)
def test_only_data_scientists_and_admins_may_export(
    api: Api, role: str | None, status: int
) -> None:
    note = _reviewed_note(api)

    response = api.client.get(
        URL, params={"include_text": "true"}, headers=api.auth(role) if role else {}
    )

    assert response.status_code == status
    if status != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert _audit_actions(api, note["id"]) == []  # a refused export discloses nothing


def test_the_export_carries_rationale_suppression_and_restores(api: Api) -> None:
    note = api.post_note(note_text("Pneumonia with fever. Known CKD.")).json()
    ids = {s["code"]: s["id"] for s in note["suggestions"]}
    api.decide(ids["R50.9"], action="accept")  # restores the kept-back code
    api.decide(ids["J18.9"], action="accept")

    response = api.client.get(URL, headers=api.auth("data_scientist"))

    [record] = _records(response.text)
    jsonschema.validate(record, export.schema())
    assert record["format"] == "cac-decisions/3"
    by_code = {s["code"]: s for s in record["suggestions"]}
    fever, pneumonia, ckd = by_code["R50.9"], by_code["J18.9"], by_code["N18.9"]
    assert fever["suppressed_by"] == {
        "rule": "integral.fever_infection",
        "section": "I.B.5",
        "code": "J18.9",
        "detail": "fever is routinely part of an infection",
    }
    assert fever["shown"] is False and fever["rationale"] == []
    [restore] = fever["decisions"]
    assert (restore["restored_suppressed"], restore["restored_rule"]) == (
        True,
        "integral.fever_infection",
    )
    [plain] = pneumonia["decisions"]
    assert (plain["restored_suppressed"], plain["restored_rule"]) == (False, None)
    assert pneumonia["rationale"][0]["section"] == "I.A.19"
    assert pneumonia["suppressed_by"] is None
    assert (ckd["evidence_kinds"], ckd["alternatives"][0]) == (["abbreviation"], "N18.1")
    assert pneumonia["evidence_kinds"] == ["mention"]


def test_the_documented_record_example_matches_the_schema(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    media = spec["paths"][URL]["get"]["responses"]["200"]["content"]["application/x-ndjson"]

    jsonschema.validate(exports._RECORD_EXAMPLE, export.schema())
    assert media["example"]["format"] == export.FORMAT
    assert export.NoteRecord.model_validate(exports._RECORD_EXAMPLE).suggestions[1].suppressed_by


def test_each_record_carries_the_impact_the_note_shows(api: Api) -> None:
    note = _reviewed_note(api)
    shown = api.client.get(f"/v1/notes/{note['id']}", headers=api.auth("coder")).json()["impact"]

    response = api.client.get(URL, headers=api.auth("data_scientist"))

    [record] = _records(response.text)
    jsonschema.validate(record, export.schema())
    assert record["impact"] == shown  # the same figures, the same shape as the API's
    assert record["impact"]["principal"]["code"] == "J18.9"
    assert record["impact"]["drg"]["code"] == "195" and record["impact"]["drg"]["provisional"]
    by_code = {c["code"]: c for c in record["impact"]["codes"]}
    assert by_code["E11.9"]["hccs"] == ["38"]
    assert [h["hcc"] for h in record["impact"]["hcc"]["hccs"]] == ["38"]
