"""cac.Coder on small notes, with the real knowledge base and the committed lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac.config import Settings
from cac.pipeline import MAX_TEXT_CHARS, Coder, CodingInputError

pytestmark = pytest.mark.kb


@pytest.fixture(scope="module")
def coder(real_home: Path) -> Coder:
    return Coder.load(Settings(home=real_home).kb_dir)


def test_diabetes_gives_e119_with_evidence_slicing_the_input(coder: Coder) -> None:
    text = "Assessment: Type 2 diabetes mellitus without complications."
    result = coder.code(text)
    e119 = next(s for s in result.suggestions if s.code == "E11.9")
    assert e119.shown and 0 < e119.confidence <= 1
    spans = [text[e.start : e.end] for e in e119.evidence]
    assert "Type 2 diabetes mellitus without complications" in spans
    assert all(e.text == text[e.start : e.end] for e in e119.evidence)


def test_json_shape(coder: Coder) -> None:
    payload = coder.code("Laparoscopic cholecystectomy was performed.").to_json()
    assert set(payload) == {"suggestions", "mentions", "model"}
    first = payload["suggestions"][0]
    assert {"system", "code", "description", "confidence", "evidence", "assertion", "demo"} <= set(
        first
    )
    assert any(m["label"] == "PROCEDURE" for m in payload["mentions"])


def test_suggestions_ranked_per_system(coder: Coder) -> None:
    result = coder.code("Hypertension. Renal colic. Laparoscopic cholecystectomy.")
    systems = [s.system.value for s in result.suggestions]
    assert systems == sorted(systems, key=["icd10cm", "icd10pcs", "hcpcs", "cpt"].index)
    for system in set(systems):
        confs = [s.confidence for s in result.suggestions if s.system.value == system]
        assert confs == sorted(confs, reverse=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   \n ", "empty"), ("x" * (MAX_TEXT_CHARS + 1), "limit"), ("a\x00b", "NUL")],
)
def test_bad_input_raises_documented_error(coder: Coder, text: str, message: str) -> None:
    with pytest.raises(CodingInputError, match=message):
        coder.code(text)


def _codes(coder: Coder, text: str, setting: str = "inpatient") -> set[str]:
    return {s.code for s in coder.code(text, setting).suggestions}  # type: ignore[arg-type]


def test_negated_pneumonia_is_not_coded(coder: Coder) -> None:
    result = coder.code("No evidence of pneumonia.")
    assert not any(s.code.startswith(("J18", "J12", "J13", "J15")) for s in result.suggestions)
    assert any(m.text == "pneumonia" and m.assertion == "negated" for m in result.mentions)


def test_family_history_of_breast_cancer(coder: Coder) -> None:
    codes = _codes(coder, "Mother had breast cancer.")
    assert "Z80.3" in codes
    assert not any(c.startswith("C50") for c in codes)


def test_uncertain_diagnosis_follows_the_setting(coder: Coder) -> None:
    assert "J18.9" in _codes(coder, "Probable pneumonia.", "inpatient")
    assert "J18.9" not in _codes(coder, "Probable pneumonia.", "outpatient")


def test_status_post_lap_chole_is_understood(coder: Coder) -> None:
    result = coder.code("s/p lap chole")
    mention = next(m for m in result.mentions if m.text == "lap chole")
    assert mention.label == "PROCEDURE" and mention.assertion == "historical"
    # a past procedure is not coded as performed in this encounter
    assert not any(s.system.value == "icd10pcs" for s in result.suggestions)
