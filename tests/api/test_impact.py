"""Impact through the API: POST /v1/impact, the impact of a note recomputed after a decision
and audited before and after, a coder's principal, and bad input answered without storing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, note_text

TEXT = note_text("Pneumonia and diabetes; hypertension.")


def test_what_if_answers_the_shape_the_issue_asks_for(api: Api) -> None:
    before = api.counts()
    response = api.client.post(
        "/v1/impact",
        json={"codes": ["j18.9", "J96.01"], "setting": "inpatient", "age": 70, "sex": "F"},
        headers=api.auth("coder"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body["drg"][k] for k in ("code", "mdc", "provisional")} == {
        "code": "193",
        "mdc": "04",
        "provisional": False,
    }
    assert body["drg"]["title"] == "Simple Pneumonia and Pleurisy with MCC"
    assert body["drg"]["weight"] > 1
    assert [(c["code"], c["cc_mcc"], c["hccs"]) for c in body["codes"]] == [
        ("J18.9", None, []),
        ("J96.01", "MCC", ["213"]),
    ]
    assert body["hcc"]["model"] == "CMS-HCC V28"
    assert [h["hcc"] for h in body["hcc"]["hccs"]] == ["213"]
    assert body["hcc"]["raf"] > body["hcc"]["raf_disease"] > 0
    assert [p["id"] for p in body["prompts"]] == ["pneumonia_organism"]
    assert api.counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"codes": []}, "codes"),
        ({"codes": ["J18.99"]}, None),
        ({"codes": ["J18"]}, None),
        ({"codes": ["J18.9"], "sex": "X"}, "sex"),
        ({"codes": ["J18.9"], "age": 200}, "age"),
        ({"codes": ["J18.9"], "age": True}, "age"),  # a JSON boolean is no age (strict)
        ({"codes": ["J18.9"], "age": "70"}, "age"),
        ({"codes": ["J18.9"], "pcs": ["ZZZZZZZ"]}, None),
    ],
)
def test_bad_what_if_input_is_a_problem_and_stores_nothing(
    api: Api, body: dict[str, Any], field: str | None
) -> None:
    before = api.counts()
    response = api.client.post("/v1/impact", json=body, headers=api.auth("coder"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert field in response.text
    assert api.counts() == before


def _note(api: Api, **extra: Any) -> dict[str, Any]:
    response = api.post_note(TEXT, **extra)
    assert response.status_code == 201, response.text
    note: dict[str, Any] = response.json()
    return note


def test_a_note_carries_its_impact_and_a_decision_recomputes_it(api: Api) -> None:
    note = _note(api)
    impact = note["impact"]
    assert impact["principal"]["code"] == "J18.9"
    assert impact["drg"]["code"] == "195" and impact["drg"]["provisional"]
    ids = {s["code"]: s["id"] for s in note["suggestions"]}

    decided = api.decide(ids["E11.9"], action="replace", code="E11.22")
    assert decided.status_code == 201, decided.text

    read = api.client.get(f"/v1/notes/{note['id']}", headers=api.auth("coder")).json()
    assert [h["hcc"] for h in read["impact"]["hcc"]["hccs"]] == ["37"]
    events = api.client.get(f"/v1/notes/{note['id']}/audit", headers=api.auth("coder")).json()
    recomputed = [e for e in events["events"] if e["action"] == "impact.recomputed"]
    assert len(recomputed) == 1
    details = recomputed[0]["details"]
    assert details["cause"] == "decision.replace"
    assert (details["before"]["hccs"], details["after"]["hccs"]) == (["38"], ["37"])
    assert details["before"]["drg"] == "195"
    metrics = api.client.get("/metrics", headers=api.auth("admin")).text
    assert "cac_impact_hccs_captured_total 1.0" in metrics


def test_plain_notes_take_age_and_sex_and_the_drg_is_then_final(api: Api) -> None:
    note = _note(api, patient_age=80, patient_sex="male")
    assert note["impact"]["drg"]["provisional"] is False
    assert note["impact"]["hcc"]["raf"] is not None


def test_a_coder_chooses_the_principal_and_it_is_audited(api: Api) -> None:
    note = _note(api)
    url = f"/v1/notes/{note['id']}/principal"
    bad = api.client.put(url, json={"code": "I50.9"}, headers=api.auth("coder"))
    assert bad.status_code == 422 and "not one of note" in bad.json()["detail"]
    chosen = api.client.put(
        url, json={"code": "e11.9", "reason": "admitted for diabetes"}, headers=api.auth("coder")
    )
    assert chosen.status_code == 200, chosen.text
    principal = chosen.json()["impact"]["principal"]
    assert (principal["code"], principal["rule"]) == ("E11.9", "principal.decided")
    assert chosen.json()["impact"]["drg"]["mdc"] == "10"
    events = api.client.get(f"/v1/notes/{note['id']}/audit", headers=api.auth("coder")).json()
    actions = [e["action"] for e in events["events"]]
    assert actions[-2:] == ["principal.set", "impact.recomputed"]
    assert events["events"][-1]["details"]["after"]["principal"] == "E11.9"
    reader = api.client.put(url, json={"code": "J18.9"}, headers=api.auth("ehr"))
    assert reader.status_code == 403
