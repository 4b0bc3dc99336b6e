"""``Accept: application/fhir+json``: a note's suggestions as a FHIR R4 Bundle, validated."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, note_text
from tests.api.fhir_checks import (
    CONFIDENCE,
    EVIDENCE,
    ICD10CM,
    REVIEW,
    SYSTEMS,
    bundle_of,
    coding,
    extensions,
    parts,
    resources,
    suggestion_id,
    verification,
)
from tests.api.test_notes import CLINICAL

FHIR = {"Accept": "application/fhir+json"}
TEXT = note_text(
    "Pneumonia with fever, diabetes and hypertension. Known CKD. Appendectomy; crutches."
)


def _post(api: Api, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The note posted as JSON and asked back as FHIR: (the JSON note, the Bundle)."""
    posted = api.client.post(
        "/v1/notes",
        json={"external_id": "fhir-out/1", "text": TEXT, "setting": "inpatient", **extra},
        headers={**api.auth("ehr"), **FHIR},
    )
    assert posted.status_code == 201, posted.text
    assert posted.headers["location"].startswith("/v1/notes/")
    bundle = bundle_of(posted)
    note = api.client.get(posted.headers["location"], headers=api.auth("coder")).json()
    return note, bundle


def _get_bundle(api: Api, note_id: int) -> dict[str, Any]:
    response = api.client.get(f"/v1/notes/{note_id}", headers={**api.auth("coder"), **FHIR})
    assert response.status_code == 200, response.text
    return bundle_of(response)


def test_a_posted_note_answers_with_one_condition_per_shown_icd10cm_code(api: Api) -> None:
    note, bundle = _post(api, patient_ref="Patient/8841", encounter_ref="Encounter/77")

    shown = [s for s in note["suggestions"] if s["shown"]]
    shown_cm = [s for s in shown if s["system"] == "icd10cm"]
    conditions = resources(bundle, "Condition")
    assert len(shown_cm) >= 3
    assert [suggestion_id(c) for c in conditions] == [s["id"] for s in shown_cm]
    assert {coding(c)["code"] for c in conditions} == {s["code"] for s in shown_cm}
    for condition, suggestion in zip(conditions, shown_cm, strict=True):
        assert coding(condition) == {
            "system": ICD10CM,
            "code": suggestion["code"],
            "display": suggestion["description"],
        }
        assert verification(condition) == "provisional"
        assert condition["subject"] == {"reference": "Patient/8841"}
        assert condition["encounter"] == {"reference": "Encounter/77"}
        (confidence,) = extensions(condition, CONFIDENCE)
        assert confidence["valueDecimal"] == suggestion["confidence"]
        spans = [parts(e) for e in extensions(condition, EVIDENCE)]
        assert len(spans) == len(suggestion["evidence"])
        for span in spans:
            if span["kind"] != "inferred":
                assert TEXT[span["start"] : span["end"]] == span["text"]
    # R50.9 (fever) is kept back by a convention rule: not shown, not in the Bundle
    hidden = {s["code"] for s in note["suggestions"] if not s["shown"]}
    assert "R50.9" in hidden
    assert not hidden & {coding(c)["code"] for c in conditions}


def test_procedures_carry_their_own_code_systems(api: Api) -> None:
    note, bundle = _post(api)

    procedures = resources(bundle, "Procedure")
    expected = [s for s in note["suggestions"] if s["shown"] and s["system"] != "icd10cm"]
    assert {s["system"] for s in expected} == {"icd10pcs", "hcpcs"}
    assert [suggestion_id(p) for p in procedures] == [s["id"] for s in expected]
    for procedure, suggestion in zip(procedures, expected, strict=True):
        assert coding(procedure)["system"] == SYSTEMS[suggestion["system"]]
        assert coding(procedure)["code"] == suggestion["code"]
        assert procedure["status"] == "unknown"  # undecided


def test_decisions_show_as_confirmed_refuted_and_the_replacement_code(api: Api) -> None:
    note, _ = _post(api)
    ids = {s["code"]: s["id"] for s in note["suggestions"]}

    assert api.decide(ids["J18.9"], action="accept").status_code == 201
    assert api.decide(ids["I10"], action="reject").status_code == 201
    assert api.decide(ids["E11.9"], action="replace", code="E11.65").status_code == 201
    assert api.decide(ids["0DTJ4ZZ"], action="accept").status_code == 201
    added = api.client.post(
        f"/v1/notes/{note['id']}/codes",
        json={"system": "icd10cm", "code": "J96.01"},
        headers=api.auth("coder"),
    )
    assert added.status_code == 201, added.text
    bundle = _get_bundle(api, note["id"])

    conditions = {suggestion_id(c): c for c in resources(bundle, "Condition")}
    assert verification(conditions[ids["J18.9"]]) == "confirmed"
    assert verification(conditions[ids["I10"]]) == "refuted"
    assert verification(conditions[ids["N18.9"]]) == "provisional"
    replaced = conditions[ids["E11.9"]]
    assert verification(replaced) == "confirmed"
    assert coding(replaced)["code"] == "E11.65"
    assert "hyperglycemia" in coding(replaced)["display"].lower()
    review = parts(extensions(replaced, REVIEW)[0])
    assert review["status"] == "replaced"
    assert review["suggestedCode"]["code"] == "E11.9"
    added_id = added.json()["suggestion"]["id"]
    assert verification(conditions[added_id]) == "confirmed"
    assert not extensions(conditions[added_id], CONFIDENCE)  # a coder's code has none
    (procedure,) = [p for p in resources(bundle, "Procedure") if suggestion_id(p) == ids["0DTJ4ZZ"]]
    assert procedure["status"] == "completed"


def test_a_note_without_patient_or_encounter_says_the_subject_is_unknown(api: Api) -> None:
    _, bundle = _post(api)

    for condition in resources(bundle, "Condition"):
        assert "encounter" not in condition
        (absent,) = condition["subject"]["extension"]
        assert absent["url"].endswith("data-absent-reason")
        assert absent["valueCode"] == "unknown"


def test_json_stays_the_default_answer(api: Api) -> None:
    posted = api.post_note(TEXT)
    note_id = posted.json()["id"]

    assert posted.headers["content-type"] == "application/json"
    for accept in ("", "*/*", "application/json", "application/fhir+json;q=0.5, */*"):
        response = api.client.get(
            f"/v1/notes/{note_id}", headers={**api.auth("coder"), "Accept": accept}
        )
        assert response.headers["content-type"] == "application/json", accept
        assert response.json()["id"] == note_id
    fhir = api.client.get(
        f"/v1/notes/{note_id}",
        headers={**api.auth("coder"), "Accept": "application/json;q=0.9, application/fhir+json"},
    )
    assert bundle_of(fhir)["id"] == f"note-{note_id}"


def test_a_repost_answers_200_with_the_stored_note_as_a_bundle(api: Api) -> None:
    first = api.post_note(TEXT)
    again = api.client.post(
        "/v1/notes",
        json={"external_id": "enc-1/note", "text": TEXT, "setting": "inpatient"},
        headers={**api.auth("ehr"), **FHIR},
    )

    assert again.status_code == 200
    assert bundle_of(again)["id"] == f"note-{first.json()['id']}"


def test_errors_stay_problem_json_when_fhir_is_asked_for(api: Api) -> None:
    missing = api.client.get("/v1/notes/999999", headers={**api.auth("coder"), **FHIR})

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_real_coders_codes_as_a_bundle_after_an_accept_and_a_reject(real_api: Api) -> None:
    posted = real_api.client.post(
        "/v1/notes",
        json={"external_id": "fhir-real/1", "text": CLINICAL, "setting": "inpatient"},
        headers={**real_api.auth("ehr"), **FHIR},
    )
    assert posted.status_code == 201, posted.text
    note = real_api.client.get(posted.headers["location"], headers=real_api.auth("coder")).json()
    shown_cm = [s for s in note["suggestions"] if s["shown"] and s["system"] == "icd10cm"]
    assert {"E11.9", "J18.9"} <= {s["code"] for s in shown_cm}
    conditions = resources(bundle_of(posted), "Condition")
    assert [(coding(c)["system"], coding(c)["code"]) for c in conditions] == [
        (ICD10CM, s["code"]) for s in shown_cm
    ]

    ids = {s["code"]: s["id"] for s in shown_cm}
    assert real_api.decide(ids["J18.9"], action="accept").status_code == 201
    assert real_api.decide(ids["E11.9"], action="reject").status_code == 201
    decided = {
        coding(c)["code"]: verification(c)
        for c in resources(_get_bundle(real_api, note["id"]), "Condition")
    }
    assert decided["J18.9"] == "confirmed"
    assert decided["E11.9"] == "refuted"
    assert set(decided.values()) - {"confirmed", "refuted"} <= {"provisional"}


def test_the_documented_bundle_example_is_valid_fhir() -> None:
    from fhir.resources.R4B.bundle import Bundle

    from cac.api.schemas.fhir import BUNDLE_EXAMPLE

    assert Bundle.model_validate(BUNDLE_EXAMPLE).entry[0].resource.id == "suggestion-311"


def _suggestion(id: int, system: str, code: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "note_id": 1,
        "system": system,
        "code": code,
        "description": f"title of {code}",
        "confidence": 0.5,
        "evidence": [{"start": None, "end": None, "text": "", "kind": "inferred"}],
        "assertion": "present",
        "demo": system == "cpt",
        "needs_specificity": False,
        "shown": True,
        "rationale": [],
        "suppressed_by": None,
        "alternatives": [],
        "origin": "model",
        "status": status,
        "model_version": "m",
        "decision": None,
        **extra,
    }


def test_cpt_procedures_and_a_replacement_in_another_system() -> None:
    from datetime import UTC, datetime

    from fhir.resources.R4B.bundle import Bundle

    from cac.api.fhir.bundle_out import note_bundle
    from cac.api.schemas.notes import NoteOut

    replace = {
        "id": 9,
        "suggestion_id": 3,
        "note_id": 1,
        "sequence": 1,
        "action": "replace",
        "system": "icd10pcs",
        "code": "0DTJ4ZZ",
        "reason": None,
        "coder": "c",
        "supersedes": None,
        "created_at": datetime(2026, 12, 1, tzinfo=UTC),
    }
    note = NoteOut.model_validate(
        {
            "id": 1,
            "external_id": "e",
            "version": 1,
            "setting": "outpatient",
            "patient_ref": None,
            "encounter_ref": None,
            "source": "json",
            "created_by": "k",
            "created_at": datetime(2026, 12, 1, tzinfo=UTC),
            "model": {},
            "versions": [],
            "suggestions": [
                _suggestion(1, "cpt", "44970", "rejected"),
                _suggestion(2, "cpt", "99238", "accepted"),
                _suggestion(3, "icd10cm", "K35.80", "replaced", decision=replace),
                _suggestion(4, "icd10cm", "R10.9", "pending", shown=False),
            ],
            "final_codes": [],
        }
    )
    titles = {("icd10pcs", "0DTJ4ZZ"): "Resection of Appendix, Percutaneous Endoscopic"}

    bundle = note_bundle(note, lambda system, code: titles.get((system, code)))
    body = Bundle.model_validate_json(bundle.model_dump_json(exclude_none=True))

    entries = [e.resource for e in body.entry or []]
    assert [r.get_resource_type() for r in entries] == ["Procedure"] * 3  # R10.9 is not shown
    rejected, accepted, replaced = entries
    assert rejected.code.coding[0].system == "http://www.ama-assn.org/go/cpt"
    assert (rejected.status, accepted.status, replaced.status) == (
        "entered-in-error",
        "completed",
        "completed",
    )
    assert replaced.code.coding[0].system == "http://www.cms.gov/Medicare/Coding/ICD10"
    assert replaced.code.coding[0].code == "0DTJ4ZZ"
    assert replaced.code.coding[0].display == titles[("icd10pcs", "0DTJ4ZZ")]
