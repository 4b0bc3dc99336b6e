"""``POST /v1/notes`` with a FHIR Bundle: the DocumentReference, its Patient and Encounter."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cac.db.models import Note
from cac.kb.store import KnowledgeBase
from cac.pipeline import CodingResult, Demographics
from tests.api.conftest import PHI, Api, FakeCoder, note_text, running_api
from tests.api.fhir_checks import bundle_of, resources

TEXT = note_text("Admitted with pneumonia; known hypertension.")
BIRTH_DATE = "1950-04-02"
FHIR_HEADERS = {"Content-Type": "application/fhir+json"}


class RecordingCoder(FakeCoder):
    """The fake coder, keeping what each call was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Demographics | None]] = []

    def code(
        self, text: str, setting: str = "inpatient", demographics: Demographics | None = None
    ) -> CodingResult:
        self.calls.append((setting, demographics))
        return super().code(text, setting, demographics)


@pytest.fixture
def recording() -> RecordingCoder:
    return RecordingCoder()


@pytest.fixture
def api(
    database_url: str, tmp_path: Path, recording: RecordingCoder, real_kb: KnowledgeBase
) -> Iterator[Api]:
    with running_api(database_url, tmp_path, recording, real_kb) as running:
        yield running


def bundle(
    encounter_class: str | None = "IMP",
    birth_date: str | None = BIRTH_DATE,
    kind: str = "collection",
) -> dict[str, Any]:
    """A DocumentReference with its Patient and Encounter, referenced by ``Type/id``."""
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "enc-9",
        "status": "finished",
        "subject": {"reference": "Patient/p-1"},
        "period": {"start": "2026-11-25T08:00:00Z"},
    }
    if encounter_class is not None:
        encounter["class"] = {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": encounter_class,
        }
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "p-1", "gender": "female"}
    if birth_date is not None:
        patient["birthDate"] = birth_date
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": "https://ehr.test/fhir/Patient/p-1", "resource": patient},
            {"fullUrl": "https://ehr.test/fhir/Encounter/enc-9", "resource": encounter},
            {"resource": document()},
        ],
    }


def document(value: str = "doc-1") -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "identifier": [{"system": "urn:test", "value": value}],
        "subject": {"reference": "Patient/p-1"},
        "context": {"encounter": [{"reference": "Encounter/enc-9"}]},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(TEXT.encode()).decode(),
                }
            }
        ],
    }


def post(api: Api, body: dict[str, Any], query: str = "", **headers: str) -> Any:
    return api.client.post(
        f"/v1/notes{query}", json=body, headers={**api.auth("ehr"), **FHIR_HEADERS, **headers}
    )


def stored(api: Api, note_id: int) -> tuple[int | None, str | None]:
    with api.db.read() as session:
        note = session.get_one(Note, note_id)
        return note.patient_age, note.patient_sex


def test_an_inpatient_encounter_and_a_patient_born_1950_code_as_inpatient_with_age_and_sex(
    api: Api, recording: RecordingCoder
) -> None:
    response = post(api, bundle("IMP"))

    assert response.status_code == 201, response.text
    note = response.json()
    assert (note["setting"], note["source"]) == ("inpatient", "fhir")
    assert (note["patient_ref"], note["encounter_ref"]) == ("Patient/p-1", "Encounter/enc-9")
    assert (note["patient_age"], note["patient_sex"]) == (76, "female")
    assert stored(api, note["id"]) == (76, "female")
    ((setting, demographics),) = recording.calls
    assert setting == "inpatient"
    assert demographics == Demographics(age=76, sex="female")
    assert "76" not in repr(demographics) and "female" not in repr(demographics)


@pytest.mark.parametrize(
    ("code", "setting"),
    [
        ("IMP", "inpatient"),
        ("ACUTE", "inpatient"),
        ("NONAC", "inpatient"),
        ("AMB", "outpatient"),
        ("EMER", "outpatient"),
        ("VR", "outpatient"),
        ("HH", "outpatient"),
    ],
)
def test_the_setting_comes_from_the_encounter_class(api: Api, code: str, setting: str) -> None:
    response = post(api, bundle(code))

    assert response.status_code == 201, response.text
    assert response.json()["setting"] == setting


def test_the_setting_query_wins_over_the_encounter_class(
    api: Api, recording: RecordingCoder
) -> None:
    response = post(api, bundle("IMP"), "?setting=outpatient")

    assert response.status_code == 201, response.text
    assert response.json()["setting"] == "outpatient"
    assert recording.calls[0][0] == "outpatient"


def test_an_age_counts_whole_years_to_the_encounter_and_a_year_alone_from_1_january(
    api: Api,
) -> None:
    before_birthday = bundle(birth_date="1950-12-01")
    year_only = bundle(birth_date="1950")
    year_only["entry"][2]["resource"] = document("doc-2")

    first = post(api, before_birthday)
    second = post(api, year_only)

    assert first.json()["patient_age"] == 75  # 25 Nov 2026 is before the 76th birthday
    assert second.json()["patient_age"] == 76


def test_a_transaction_bundle_resolves_urn_uuid_references(api: Api) -> None:
    body = bundle(kind="transaction")
    patient, encounter, doc = (e["resource"] for e in body["entry"])
    del patient["id"], encounter["id"]
    body["entry"][0]["fullUrl"] = "urn:uuid:8c8e2f4a-1d7b-4a43-9f0e-3b5c6d7e8f90"
    body["entry"][1]["fullUrl"] = "urn:uuid:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    for entry in body["entry"]:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    doc["subject"]["reference"] = body["entry"][0]["fullUrl"]
    doc["context"]["encounter"][0]["reference"] = body["entry"][1]["fullUrl"]
    encounter["subject"]["reference"] = body["entry"][0]["fullUrl"]
    encounter["class"]["code"] = "AMB"

    response = post(api, body)

    assert response.status_code == 201, response.text
    note = response.json()
    assert note["patient_ref"] == body["entry"][0]["fullUrl"]
    assert (note["setting"], note["patient_age"]) == ("outpatient", 76)


def test_a_bundle_without_patient_or_encounter_is_an_inpatient_note_without_demographics(
    api: Api, recording: RecordingCoder
) -> None:
    doc = document()
    del doc["subject"], doc["context"]
    response = post(
        api, {"resourceType": "Bundle", "type": "document", "entry": [{"resource": doc}]}
    )

    assert response.status_code == 201, response.text
    note = response.json()
    assert (note["setting"], note["patient_age"], note["patient_sex"]) == ("inpatient", None, None)
    assert recording.calls == [("inpatient", None)]


def test_a_bundle_in_answers_a_bundle_out(api: Api) -> None:
    response = post(api, bundle(), Accept="application/fhir+json")

    assert response.status_code == 201, response.text
    conditions = resources(bundle_of(response), "Condition")
    assert {c["coding"][0]["code"] for c in (r["code"] for r in conditions)} == {"J18.9", "I10"}
    assert {c["subject"]["reference"] for c in conditions} == {"Patient/p-1"}
    assert {c["encounter"]["reference"] for c in conditions} == {"Encounter/enc-9"}


def _two_documents() -> dict[str, Any]:
    body = bundle()
    body["entry"].append({"resource": document("doc-2")})
    return body


def _no_document() -> dict[str, Any]:
    body = bundle()
    body["entry"].pop()
    return body


def _unresolved_subject() -> dict[str, Any]:
    body = bundle()
    body["entry"][2]["resource"]["subject"]["reference"] = "Patient/not-in-bundle"
    return body


def _unresolved_encounter() -> dict[str, Any]:
    body = bundle()
    body["entry"][2]["resource"]["context"]["encounter"][0]["reference"] = "Encounter/x"
    return body


def _encounter_of_another_patient() -> dict[str, Any]:
    body = bundle()
    body["entry"].append(
        {"resource": {"resourceType": "Patient", "id": "p-2", "birthDate": "1980"}}
    )
    body["entry"][1]["resource"]["subject"]["reference"] = "Patient/p-2"
    return body


def _reference_to_the_wrong_type() -> dict[str, Any]:
    body = bundle()
    body["entry"][2]["resource"]["subject"]["reference"] = "Encounter/enc-9"
    return body


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (_no_document, "entry"),
        (_two_documents, "entry.3"),
        (_unresolved_subject, "entry.2.resource.subject"),
        (_unresolved_encounter, "entry.2.resource.context.encounter.0"),
        (_encounter_of_another_patient, "entry.1.resource.subject"),
        (_reference_to_the_wrong_type, "entry.2.resource.subject"),
        (lambda: bundle("OBSENC"), "entry.1.resource.class"),
        (lambda: bundle(None), "entry.1.resource.class"),
        (lambda: bundle(birth_date="04/02/1950"), "entry.0.resource.birthDate"),
        (lambda: bundle(birth_date="2027-01-01"), "entry.0.resource.birthDate"),
        (lambda: bundle(kind="searchset"), "type"),
    ],
)
def test_a_malformed_bundle_is_a_422_naming_its_entry_and_stores_nothing(
    api: Api, recording: RecordingCoder, make: Any, field: str
) -> None:
    body = make()
    before = api.counts()

    response = post(api, copy.deepcopy(body))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in problem["detail"]
    assert field in [e["field"] for e in problem["errors"]]
    assert api.counts() == before
    assert recording.calls == []
    for secret in (PHI, BIRTH_DATE, "04/02/1950", "female"):
        assert secret not in response.text


def test_a_bad_gender_is_a_422_that_does_not_repeat_it(api: Api) -> None:
    body = bundle()
    body["entry"][0]["resource"]["gender"] = "F-secret"

    response = post(api, body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "entry.0.resource.gender"
    assert "F-secret" not in response.text


def test_age_and_sex_never_reach_the_service_log(api: Api, service_log: Path) -> None:
    body = bundle(birth_date="1931-02-03")
    body["entry"][0]["resource"]["gender"] = "other"
    response = post(api, body)
    assert response.status_code == 201
    assert response.json()["patient_age"] == 95

    log = service_log.read_text(encoding="utf-8")
    request_lines = [line for line in log.splitlines() if response.headers["x-request-id"] in line]
    assert request_lines  # the request was logged
    assert "1931-02-03" not in log
    for line in request_lines:
        assert not re.search(r"\b(age|sex|gender|birth\w*|other)\b", line, re.I), line
