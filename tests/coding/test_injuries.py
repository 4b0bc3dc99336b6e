"""Injuries the note states with their 7th character and external causes, weeks of gestation,
handedness, and the follow-up code: the conventions stage alone on the real knowledge base."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cac.coding.conventions import Conventions
from cac.coding.gestation import stated, z3a_code
from cac.coding.records import Suggestion
from cac.kb.store import KnowledgeBase
from tests.coding.test_conventions import by_code, cut, shown

pytestmark = pytest.mark.kb


@pytest.fixture(scope="module")
def stage(real_kb: KnowledgeBase) -> Iterator[Conventions]:
    yield Conventions(real_kb)


def evidence_of(s: Suggestion) -> list[str]:
    return [e.text for e in s.evidence]


@pytest.mark.parametrize(
    ("text", "injury", "cause"),
    [
        # an animal bite is an open bite; the dog is the external cause (I.C.20.a)
        ("Dog bite to the left hand today. Irrigated.", "S61.452A", "W54.0XXA"),
        # a fracture not called open or nondisplaced is closed and displaced (I.C.19.c.1)
        (
            "Fell from a ladder today. X-ray shows a fracture of the lateral malleolus of the "
            "left fibula. Splint applied; follow-up in 1 week.",
            "S82.62XA",
            "W11.XXXA",
        ),
        ("Laceration of the right forearm from broken glass. No foreign body.", "S51.811A", "W25.XXXA"),
    ],
)
def test_a_stated_injury_is_coded_with_its_encounter_and_cause(
    stage: Conventions, real_kb: KnowledgeBase, text: str, injury: str, cause: str
) -> None:
    out = stage.apply(cut(real_kb, text, "R52", shown=False), text)
    assert set(shown(out)) == {injury, cause}
    made = by_code(out)[injury]
    assert made.rationale[0].rule == "specificity.stated_injury"
    assert all(text[e.start : e.end] == e.text for e in made.evidence)


def test_healing_at_a_later_visit_is_the_subsequent_encounter(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Seen 4 weeks after a Colles' fracture of the right radius. Routine healing."
    out = stage.apply(cut(real_kb, text, "R52", shown=False), text)
    assert shown(out) == ["S52.531D"]


def test_a_negated_or_uncertain_injury_is_not_coded(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    for text in (
        "No fracture of the right patella on X-ray.",
        "Possible fracture of the right patella; X-ray pending.",
    ):
        out = stage.apply(cut(real_kb, text, "R52", shown=False), text)
        assert not [c for c in shown(out) if c.startswith("S")], text


def test_a_superficial_injury_beside_a_severe_one_of_its_site_is_kept_back(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Closed fracture of right patella with abrasion of right knee, initial encounter."
    out = stage.apply(cut(real_kb, text, "R52", shown=False), text)
    assert "S82.001A" in shown(out)
    abrasion = by_code(out)["S80.211A"]
    assert not abrasion.shown
    assert abrasion.suppressed_by is not None
    assert abrasion.suppressed_by.section == "I.C.19.b.1"


def test_weeks_of_gestation_beside_a_pregnancy_code(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "G1P0 at 32 weeks with gestational diabetes, diet controlled."
    out = stage.apply(cut(real_kb, text, "O24.410"), text)
    assert "Z3A.32" in shown(out)
    assert evidence_of(by_code(out)["Z3A.32"]) == ["at 32 weeks"]
    # without a pregnancy code, or with a duration, no Z3A code
    other = "Cough for 3 weeks."
    assert "Z3A.03" not in shown(stage.apply(cut(real_kb, other, "R05.9"), other))


def test_gestational_age_reading() -> None:
    assert [w.weeks for w in stated("GA 28w3d, 28 weeks pregnant")] == [28, 28]
    assert stated("cough for 2 weeks") == []
    assert (z3a_code(5), z3a_code(32), z3a_code(43)) == ("Z3A01", "Z3A32", "Z3A49")


def test_handedness_decides_the_dominant_side(stage: Conventions, real_kb: KnowledgeBase) -> None:
    text = "Left-handed man. Acute stroke with left hemiparesis."
    out = stage.apply(cut(real_kb, text, "G81.94"), text)
    # left side affected in a left-handed patient: the dominant side (I.C.6.a)
    assert shown(out) == ["G81.92"]
    assert "Left-handed" in evidence_of(by_code(out)["G81.92"])
    same = "Right-handed woman with left hemiparesis."
    kept = stage.apply(cut(real_kb, same, "G81.94"), same)
    assert shown(kept) == ["G81.94"]
    assert "Right-handed" in evidence_of(by_code(kept)["G81.94"])


def test_surveillance_after_cancer_treatment_is_the_follow_up_code(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "History of colon cancer, resected 2015; here for surveillance colonoscopy."
    out = stage.apply(cut(real_kb, text, "Z85.038"), text)
    assert set(shown(out)) == {"Z08", "Z85.038"}
    assert evidence_of(by_code(out)["Z08"]) == ["surveillance colonoscopy"]
    plain = "History of colon cancer, resected 2015."
    assert shown(stage.apply(cut(real_kb, plain, "Z85.038"), plain)) == ["Z85.038"]
