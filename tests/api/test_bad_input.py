"""Bad input: a 4xx problem+json whose detail says what to fix, and nothing stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cac.pipeline import MAX_TEXT_CHARS
from tests.api.conftest import PHI, Api, note_text

JSON = "application/json"
FHIR = "application/fhir+json"


def _fhir(attachment: dict[str, Any] | None, **extra: Any) -> bytes:
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"value": "doc-1"}],
        "content": [{"attachment": attachment}] if attachment else [],
        **extra,
    }
    return json.dumps(resource).encode()


def _note(**fields: Any) -> bytes:
    body = {"external_id": "enc-9", "text": note_text(), "setting": "inpatient", **fields}
    return json.dumps(body).encode()


# (name, content type, body, status, words the detail must contain)
NOTE_CASES = [
    ("empty text", JSON, _note(text=""), 422, "empty"),
    ("whitespace text", JSON, _note(text=" \n\t "), 422, "empty"),
    ("text over the limit", JSON, _note(text="a" * (MAX_TEXT_CHARS + 1)), 413, "limit is 100,000"),
    ("body over the limit", JSON, b" " * (3 * 1024 * 1024), 413, "bytes"),
    ("NUL in text", JSON, _note(text=note_text("a\x00b")), 422, "NUL"),
    ("invalid JSON", JSON, b'{"external_id": "x", "text": "' + PHI.encode(), 400, "not valid JSON"),
    ("not UTF-8", JSON, b'{"text": "\xff\xfe"}', 400, "UTF-8"),
    ("a JSON list", JSON, b"[]", 422, "JSON object"),
    (
        "missing setting",
        JSON,
        json.dumps({"external_id": "x", "text": note_text()}).encode(),
        422,
        "setting",
    ),
    ("unknown setting", JSON, _note(setting="emergency"), 422, "setting"),
    ("text not a string", JSON, _note(text=["a", PHI]), 422, "text"),
    ("unknown field", JSON, _note(txt=note_text()), 422, "txt"),
    ("blank external id", JSON, _note(external_id="  "), 422, "external_id"),
    ("wrong content type", "text/plain", note_text().encode(), 415, "application/json"),
    ("no content type", None, _note(), 415, "Content-Type"),
    (
        "FHIR, not a DocumentReference",
        FHIR,
        json.dumps({"resourceType": "Patient"}).encode(),
        422,
        "DocumentReference",
    ),
    ("FHIR, no attachment", FHIR, _fhir(None), 422, "content"),
    (
        "FHIR, PDF only",
        FHIR,
        _fhir({"contentType": "application/pdf", "data": "JVBERi0="}),
        422,
        "text/plain",
    ),
    (
        "FHIR, URL only",
        FHIR,
        _fhir({"contentType": "text/plain", "url": "http://ehr/doc/1"}),
        422,
        "does not fetch",
    ),
    (
        "FHIR, bad base64",
        FHIR,
        _fhir({"contentType": "text/plain", "data": "@@not base64@@"}),
        422,
        "base64",
    ),
    (
        "FHIR, empty text",
        FHIR,
        _fhir({"contentType": "text/plain", "data": base64.b64encode(b"   ").decode()}),
        422,
        "empty",
    ),
    (
        "FHIR, no identifier",
        FHIR,
        json.dumps(
            {
                "resourceType": "DocumentReference",
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "data": base64.b64encode(b"x").decode(),
                        }
                    }
                ],
            }
        ).encode(),
        422,
        "identifier",
    ),
]


def _assert_problem(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("urn:cac:problem:")
    assert words.lower() in problem["detail"].lower(), problem["detail"]
    assert PHI not in response.text


@pytest.mark.parametrize(
    ("case", "content_type", "body", "status", "words"), NOTE_CASES, ids=[c[0] for c in NOTE_CASES]
)
def test_a_bad_note_is_refused_and_nothing_stored(
    api: Api, case: str, content_type: str | None, body: bytes, status: int, words: str
) -> None:
    headers = api.auth("ehr")
    if content_type:
        headers["Content-Type"] = content_type
    before = api.counts()

    response = api.client.post("/v1/notes", content=body, headers=headers)

    _assert_problem(response, status, words)
    assert api.counts() == before


@pytest.fixture
def suggestion(api: Api) -> dict[str, Any]:
    note = api.post_note(note_text("Pneumonia.")).json()
    first: dict[str, Any] = note["suggestions"][0]
    return first


DECISION_CASES = [
    ("unknown action", {"action": "approve"}, 422, "action"),
    ("replace without code", {"action": "replace"}, 422, "code"),
    ("code on an accept", {"action": "accept", "code": "J18.9"}, 422, "only with action"),
    (
        "unknown system",
        {"action": "replace", "system": "icd9cm", "code": "486"},
        422,
        "system: input should be 'icd10cm'",  # the schema's enum
    ),
    ("malformed code", {"action": "replace", "code": "J18.9; DROP"}, 422, "not a valid"),
    (
        "code not in the system",
        {"action": "replace", "code": "Q99.999"},
        422,
        "is not a icd10cm code",
    ),
    ("non-billable code", {"action": "replace", "code": "J18"}, 422, "not billable"),
    ("replacement equals suggestion", {"action": "replace", "code": "j189"}, 422, "use accept"),
    ("reason too long", {"action": "reject", "reason": "x" * 2001}, 422, "reason"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "words"), DECISION_CASES, ids=[c[0] for c in DECISION_CASES]
)
def test_a_bad_decision_is_refused_and_nothing_stored(
    api: Api, suggestion: dict[str, Any], case: str, body: dict[str, Any], status: int, words: str
) -> None:
    before = api.counts()

    response = api.decide(suggestion["id"], **body)

    _assert_problem(response, status, words)
    assert api.counts() == before


ADD_CASES = [
    ("unknown system", {"system": "snomed", "code": "233604007"}, 422, "system: input should be"),
    ("invalid code", {"system": "icd10cm", "code": "!!"}, 422, "not a valid"),
    ("unknown code", {"system": "hcpcs", "code": "E9999"}, 422, "is not a hcpcs code"),
    (
        "evidence past the end",
        {"system": "icd10cm", "code": "I10", "evidence": [{"start": 5, "end": 100000}]},
        422,
        "past the end",
    ),
    (
        "evidence reversed",
        {"system": "icd10cm", "code": "I10", "evidence": [{"start": 9, "end": 3}]},
        422,
        "greater than",
    ),
    ("no code", {"system": "icd10cm"}, 422, "code"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "words"), ADD_CASES, ids=[c[0] for c in ADD_CASES]
)
def test_a_bad_added_code_is_refused_and_nothing_stored(
    api: Api, suggestion: dict[str, Any], case: str, body: dict[str, Any], status: int, words: str
) -> None:
    before = api.counts()

    response = api.client.post(
        f"/v1/notes/{suggestion['note_id']}/codes", json=body, headers=api.auth("coder")
    )

    _assert_problem(response, status, words)
    assert api.counts() == before


def test_unknown_ids_are_404(api: Api, suggestion: dict[str, Any]) -> None:
    before = api.counts()
    coder = api.auth("coder")
    for path in ("/v1/notes/9999", "/v1/notes/9999/suggestions", "/v1/notes/9999/audit"):
        _assert_problem(api.client.get(path, headers=coder), 404, "no note with id 9999")
    _assert_problem(api.decide(9999, action="accept"), 404, "no suggestion with id 9999")
    added = api.client.post(
        "/v1/notes/9999/codes", json={"system": "icd10cm", "code": "I10"}, headers=coder
    )
    _assert_problem(added, 404, "no note with id 9999")
    _assert_problem(api.client.get("/v1/codes/icd10cm/Q99.999", headers=coder), 404, "search")
    _assert_problem(api.client.get("/v1/nothing-here", headers=coder), 404, "no such resource")
    assert api.counts() == before


def test_ids_that_are_not_numbers_are_422(api: Api) -> None:
    response = api.client.get("/v1/notes/abc", headers=api.auth("coder"))
    _assert_problem(response, 422, "note_id")
    huge = api.client.get(f"/v1/notes/{2**40}", headers=api.auth("coder"))
    _assert_problem(huge, 422, "note_id")


def test_decisions_and_codes_need_json(api: Api, suggestion: dict[str, Any]) -> None:
    before = api.counts()
    headers = {**api.auth("coder"), "Content-Type": "text/plain"}

    decision = api.client.post(
        f"/v1/suggestions/{suggestion['id']}/decision", content=b"accept", headers=headers
    )
    added = api.client.post(
        f"/v1/notes/{suggestion['note_id']}/codes", content=b"I10", headers=headers
    )
    broken = api.client.post(
        f"/v1/suggestions/{suggestion['id']}/decision",
        content=b'{"action": ',
        headers={**api.auth("coder"), "Content-Type": "application/json"},
    )

    _assert_problem(decision, 415, "application/json")
    _assert_problem(added, 415, "application/json")
    _assert_problem(broken, 400, "not valid JSON")
    assert api.counts() == before


def test_search_needs_a_query_and_a_known_system(api: Api) -> None:
    coder = api.auth("coder")
    _assert_problem(api.client.get("/v1/codes/search", headers=coder), 422, "q")
    _assert_problem(api.client.get("/v1/codes/search?q=%20", headers=coder), 422, "empty")
    unknown = api.client.get("/v1/codes/search?q=flu&system=icd9", headers=coder)
    _assert_problem(unknown, 422, "system: input should be")
    _assert_problem(api.client.get("/v1/codes/search?q=flu&limit=0", headers=coder), 422, "limit")
