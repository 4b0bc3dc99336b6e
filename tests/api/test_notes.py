"""Posting notes (JSON and FHIR), idempotent re-posts, versions, reading them back."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cac.kb.store import KnowledgeBase
from tests.api.conftest import PHI, Api, note_text, running_api

CLINICAL = note_text(
    "History of type 2 diabetes mellitus and essential hypertension. Admitted with community "
    "acquired pneumonia, treated with IV antibiotics. Denies chest pain."
)


def test_posting_a_note_returns_suggestions_from_the_real_coder(real_api: Api) -> None:
    response = real_api.post_note(CLINICAL, patient_ref="Patient/8841")

    assert response.status_code == 201, response.text
    note = response.json()
    assert response.headers["location"] == f"/v1/notes/{note['id']}"
    assert note["version"] == 1 and note["patient_ref"] == "Patient/8841"
    codes = {(s["system"], s["code"]) for s in note["suggestions"]}
    assert ("icd10cm", "E11.9") in codes
    assert ("icd10cm", "J18.9") in codes
    for suggestion in note["suggestions"]:
        assert suggestion["status"] == "pending"
        assert suggestion["model_version"]
        for evidence in suggestion["evidence"]:
            if evidence["kind"] == "inferred":  # no words state it: nothing to highlight
                assert suggestion["evidence"] == [evidence] and evidence["start"] is None
                continue
            assert CLINICAL[evidence["start"] : evidence["end"]] == evidence["text"]
    stored = real_api.client.get(
        f"/v1/notes/{note['id']}/suggestions", headers=real_api.auth("coder")
    ).json()
    assert [s["id"] for s in stored["suggestions"]] == [s["id"] for s in note["suggestions"]]


def test_a_fhir_document_reference_is_coded(api: Api) -> None:
    resource = {
        "resourceType": "DocumentReference",
        "status": "current",
        "identifier": [{"system": "urn:oid:1.2.3", "value": "doc-77"}],
        "subject": {"reference": "Patient/12"},
        "context": {"encounter": [{"reference": "Encounter/99"}]},
        "content": [
            {"attachment": {"contentType": "application/pdf", "url": "http://x/doc.pdf"}},
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(note_text("Known hypertension.").encode()).decode(),
                }
            },
        ],
    }
    response = api.client.post(
        "/v1/notes?setting=outpatient",
        json=resource,
        headers={**api.auth("ehr"), "Content-Type": "application/fhir+json"},
    )

    assert response.status_code == 201, response.text
    note = response.json()
    assert note["external_id"] == "urn:oid:1.2.3|doc-77"
    assert (note["source"], note["setting"]) == ("fhir", "outpatient")
    assert (note["patient_ref"], note["encounter_ref"]) == ("Patient/12", "Encounter/99")
    assert [s["code"] for s in note["suggestions"]] == ["I10"]


def test_posting_the_same_note_again_returns_the_stored_one(api: Api) -> None:
    first = api.post_note()
    before = api.counts()

    again = api.post_note()

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["suggestions"] == first.json()["suggestions"]
    after = api.counts()
    assert after["notes"] == before["notes"] and after["suggestions"] == before["suggestions"]
    audit = api.client.get(f"/v1/notes/{first.json()['id']}/audit", headers=api.auth("coder"))
    assert [e["action"] for e in audit.json()["events"]][-1] == "note.reposted"


def test_new_text_under_the_same_external_id_adds_a_version_and_keeps_the_old(api: Api) -> None:
    old = api.post_note(note_text("Pneumonia.")).json()

    response = api.post_note(note_text("Pneumonia and diabetes."))

    assert response.status_code == 201
    new = response.json()
    assert new["id"] != old["id"] and new["version"] == 2
    assert [v["version"] for v in new["versions"]] == [1, 2]
    kept = api.client.get(f"/v1/notes/{old['id']}", headers=api.auth("ehr")).json()
    assert kept["text"] == note_text("Pneumonia.")
    assert [s["code"] for s in kept["suggestions"]] == ["J18.9"]


def test_a_note_reads_back_with_its_text_and_decided_codes(api: Api) -> None:
    note = api.post_note(note_text("Pneumonia and diabetes.")).json()
    pneumonia, diabetes = note["suggestions"]
    api.decide(pneumonia["id"], action="accept")
    api.decide(diabetes["id"], action="replace", code="E11.65", reason="hyperglycaemia")

    stored = api.client.get(f"/v1/notes/{note['id']}", headers=api.auth("coder")).json()

    assert stored["text"] == note_text("Pneumonia and diabetes.")
    assert stored["final_codes"] == [
        {"system": "icd10cm", "code": "J18.9", "suggestion_id": pneumonia["id"]},
        {"system": "icd10cm", "code": "E11.65", "suggestion_id": diabetes["id"]},
    ]


def test_every_read_of_a_notes_text_is_audited_and_a_list_read_is_not(api: Api) -> None:
    note = api.post_note(note_text("Pneumonia and diabetes.")).json()
    url = f"/v1/notes/{note['id']}"
    assert api.client.get(url, headers=api.auth("coder")).status_code == 200
    fhir = {**api.auth("admin"), "Accept": "application/fhir+json"}
    assert api.client.get(url, headers=fhir).status_code == 200
    api.client.get(f"{url}/suggestions", headers=api.auth("coder"))  # no text: no read event

    events = api.client.get(f"{url}/audit", headers=api.auth("admin")).json()["events"]
    reads = [e for e in events if e["action"] == "note.read"]
    assert [(e["actor"], e["details"]["format"]) for e in reads] == [
        ("coder-key", "json"),
        ("admin-key", "fhir"),
    ]
    assert all(e["details"]["version"] == 1 for e in reads)
    assert reads[0]["details"]["route"] == "GET /v1/notes/{note_id}"
    assert PHI not in str(events)


def test_a_code_no_words_state_reads_back_as_inferred_without_offsets(api: Api) -> None:
    note = api.post_note(note_text("Palpitations and pneumonia.")).json()
    by_code = {s["code"]: s for s in note["suggestions"]}
    inferred = [{"start": None, "end": None, "text": "", "kind": "inferred"}]
    assert by_code["I49.9"]["evidence"] == inferred
    assert by_code["J18.9"]["evidence"][0]["kind"] == "mention"
    listed = api.client.get(f"/v1/notes/{note['id']}/suggestions", headers=api.auth("coder")).json()
    stored = next(s for s in listed["suggestions"] if s["code"] == "I49.9")
    assert stored["evidence"] == inferred


def test_every_response_carries_a_request_id(api: Api) -> None:
    mine = api.client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    theirs = api.client.get("/v1/notes/1", headers=api.auth("ehr"))

    assert mine.headers["x-request-id"] == "trace-42"
    assert len(theirs.headers["x-request-id"]) == 32
    assert theirs.json()["request_id"] == theirs.headers["x-request-id"]


def test_the_service_log_carries_request_ids_and_no_note_text(api: Api, service_log: Path) -> None:
    posted = api.post_note(note_text("Pneumonia."), external_id="logged-1")
    refused = api.client.post(
        "/v1/notes",
        content=b'{"external_id": "x", "text": "' + note_text().encode(),
        headers={**api.auth("ehr"), "Content-Type": "application/json"},
    )

    lines = [json.loads(line) for line in service_log.read_text().splitlines()]
    by_request = {
        line.get("request_id"): line for line in lines if line["logger"].endswith("access")
    }
    assert by_request[posted.headers["x-request-id"]]["http"]["route"] == "/v1/notes"
    assert by_request[refused.headers["x-request-id"]]["http"]["status"] == 400
    assert any(line["message"].startswith(f"note {posted.json()['id']} coded") for line in lines)
    assert PHI not in service_log.read_text()


class _BrokenCoder:
    def code(self, text: str, setting: str = "inpatient", demographics: object = None) -> None:
        raise ValueError(f"cannot parse {text!r}")  # a message that quotes the note


def test_an_unexpected_error_is_a_500_problem_and_logs_no_note_text(
    database_url: str, tmp_path: Path, real_kb: KnowledgeBase, service_log: Path
) -> None:
    with running_api(database_url, tmp_path, _BrokenCoder(), real_kb) as broken:
        response = broken.post_note(note_text("Pneumonia."), external_id="boom")
        counts = broken.counts()

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("an unexpected error occurred")
    assert PHI not in response.text
    assert counts["notes"] == 0
    log = service_log.read_text()
    assert f'"request_id": "{response.headers["x-request-id"]}"' in log
    assert "unhandled ValueError" in log and PHI not in log


WHY = note_text("Admitted with pneumonia and fever. Known CKD.")


def test_rationale_suppression_and_evidence_kinds_are_stored_and_read_back(api: Api) -> None:
    posted = api.post_note(WHY)

    assert posted.status_code == 201, posted.text
    note = posted.json()
    by_code = {s["code"]: s for s in note["suggestions"]}
    assert set(by_code) == {"J18.9", "R50.9", "N18.9"}
    pneumonia, fever, ckd = by_code["J18.9"], by_code["R50.9"], by_code["N18.9"]
    assert pneumonia["shown"] and pneumonia["suppressed_by"] is None
    assert pneumonia["rationale"] == [
        {"rule": "cut.confidence", "section": "I.A.19", "detail": "confidence 0.90"}
    ]
    assert fever["shown"] is False and fever["rationale"] == []
    assert fever["suppressed_by"] == {
        "rule": "integral.fever_infection",
        "section": "I.B.5",
        "code": "J18.9",
        "detail": "fever is routinely part of an infection",
    }
    assert [(e["text"], e["kind"]) for e in ckd["evidence"]] == [("CKD", "abbreviation")]
    assert [e["kind"] for e in pneumonia["evidence"]] == ["mention"]
    assert ckd["needs_specificity"] and ckd["alternatives"][:2] == ["N18.1", "N18.2"]
    assert pneumonia["alternatives"] == []

    read = api.client.get(f"/v1/notes/{note['id']}", headers=api.auth("coder")).json()
    listed = api.client.get(f"/v1/notes/{note['id']}/suggestions", headers=api.auth("coder")).json()
    assert read["suggestions"] == note["suggestions"] == listed["suggestions"]
