"""The conventions stage alone: cut suggestions in, the list a coder would sign out (real
knowledge base, hand-made suggestions, so each rule is seen without the ranker)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from cac.codesets.records import System
from cac.coding.conventions import Conventions
from cac.coding.cut import why_shown
from cac.coding.records import Evidence, Suggestion
from cac.kb.store import KnowledgeBase

pytestmark = pytest.mark.kb


@pytest.fixture(scope="module")
def stage(real_kb: KnowledgeBase) -> Iterator[Conventions]:
    yield Conventions(real_kb)


def cut(kb: KnowledgeBase, text: str, *codes: str, shown: bool = True) -> list[Suggestion]:
    out = []
    for i, code in enumerate(codes):
        record = kb.lookup(System.ICD10CM, code)
        out.append(
            Suggestion(
                System.ICD10CM,
                record.display,
                record.title,
                0.9 - i * 0.05,
                (Evidence(0, min(len(text), 5), text[: min(len(text), 5)]),),
                "present",
                False,
                not record.billable,
                shown,
                why_shown(0.9 - i * 0.05, 0.3, "present", "inpatient") if shown else (),
            )
        )
    return out


def by_code(suggestions: list[Suggestion]) -> dict[str, Suggestion]:
    return {s.code: s for s in suggestions}


def shown(suggestions: list[Suggestion]) -> list[str]:
    return [s.code for s in suggestions if s.shown]


def test_diabetes_with_ckd_is_the_combination_code_sequenced_first(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Type 2 diabetes. CKD stage 3a."
    out = stage.apply(cut(real_kb, text, "N18.31", "E11.9"), text)
    assert shown(out) == ["E11.22", "N18.31"]
    e119 = by_code(out)["E11.9"]
    assert not e119.shown and e119.suppressed_by is not None
    assert e119.suppressed_by.rule == "combination.diabetes_ckd"
    assert e119.suppressed_by.code == "E11.22"
    rules = {r.rule for r in by_code(out)["E11.22"].rationale}
    assert {"combination.diabetes_ckd", "sequencing.code_first"} <= rules
    assert all(e.kind == "combination" for e in by_code(out)["E11.22"].evidence)


def test_hypertension_with_heart_failure_and_ckd(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "HTN. Chronic diastolic heart failure. CKD stage 4."
    out = stage.apply(cut(real_kb, text, "I10", "I50.32", "N18.4"), text)
    assert set(shown(out)) == {"I13.0", "I50.32", "N18.4"}
    assert shown(out)[0] == "I13.0"
    assert by_code(out)["I10"].suppressed_by.section == "I.C.9.a.3"  # type: ignore[union-attr]


def test_specific_code_stated_by_the_note_replaces_the_unspecified(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Known chronic systolic heart failure."
    out = stage.apply(cut(real_kb, text, "I50.9"), text)
    assert shown(out) == ["I50.22"]
    assert by_code(out)["I50.9"].suppressed_by.rule == "specificity.stated_axes"  # type: ignore[union-attr]
    evidence = by_code(out)["I50.22"].evidence
    assert [e.text for e in evidence] == ["chronic systolic heart failure"]


def test_unspecified_stays_when_the_note_says_no_more(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Heart failure."
    assert shown(stage.apply(cut(real_kb, text, "I50.9"), text)) == ["I50.9"]


def test_integral_symptoms_go_and_others_stay(stage: Conventions, real_kb: KnowledgeBase) -> None:
    text = "Pneumonia with cough and fever. Also a rash."
    out = stage.apply(cut(real_kb, text, "J18.9", "R05.9", "R50.9", "R21"), text)
    assert shown(out) == ["J18.9", "R21"]
    assert by_code(out)["R05.9"].suppressed_by.rule == "integral.cough_respiratory"  # type: ignore[union-attr]


def test_one_ckd_stage_the_stated_one(stage: Conventions, real_kb: KnowledgeBase) -> None:
    text = "Chronic kidney disease stage 4."
    out = stage.apply(cut(real_kb, text, "N18.5", "N18.4", "N18.9"), text)
    assert shown(out) == ["N18.4"]
    # N18.5 says "stage 5", which the note does not: it gives way to the stated stage (I.A.9.b)
    suppressed = by_code(out)["N18.5"].suppressed_by
    assert suppressed is not None and suppressed.code == "N18.4"


def test_excludes1_pair_keeps_the_better_supported(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    # E11 (type 2) and E10 (type 1): E10's Excludes1 names E11
    text = "Diabetes."
    out = stage.apply(cut(real_kb, text, "E11.65", "E10.65"), text)
    assert shown(out) == ["E11.65"]
    assert by_code(out)["E10.65"].suppressed_by is not None


def test_a_non_billable_node_is_never_shown_and_lists_its_codes(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Low back pain."
    out = stage.apply(cut(real_kb, text, "M54.5"), text)
    m545 = by_code(out)["M54.5"]
    assert not m545.shown and m545.needs_specificity
    assert m545.suppressed_by is not None and m545.suppressed_by.rule == "billable"
    assert "M54.50" in m545.alternatives


def test_nothing_is_lost(stage: Conventions, real_kb: KnowledgeBase) -> None:
    text = "Pneumonia with cough and fever. HTN. CKD stage 3a. Type 2 diabetes."
    given = cut(real_kb, text, "J18.9", "R05.9", "R50.9", "I10", "N18.31", "E11.9")
    out = stage.apply(given, text)
    assert {s.code for s in given} <= {s.code for s in out}
    for s in out:
        assert s.shown == (s.suppressed_by is None) or not s.shown
        if s.shown:
            assert s.rationale, s.code


def test_bmi_and_organism_codes_need_their_companion(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "BMI 32 recorded by the dietitian."
    out = stage.apply(cut(real_kb, text, "Z68.32"), text)
    assert shown(out) == []
    assert by_code(out)["Z68.32"].suppressed_by.rule == "companion.bmi_with_weight_diagnosis"  # type: ignore[union-attr]
    text = "Obesity, BMI 32."
    assert set(shown(stage.apply(cut(real_kb, text, "E66.9", "Z68.32"), text))) == {
        "E66.9",
        "Z68.32",
    }
    text = "MRSA."
    out = stage.apply(cut(real_kb, text, "B95.62"), text)
    assert by_code(out)["B95.62"].suppressed_by.section == "I.C.1.b"  # type: ignore[union-attr]


def test_a_code_naming_what_the_note_denies_is_kept_back(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Kidney transplant recipient, graft functioning well, no rejection."
    out = stage.apply(cut(real_kb, text, "Z94.0", "T86.11"), text)
    assert shown(out) == ["Z94.0"]
    assert by_code(out)["T86.11"].suppressed_by.rule == "assertion.denied"  # type: ignore[union-attr]


def test_temporary_insulin_is_not_long_term_use(stage: Conventions, real_kb: KnowledgeBase) -> None:
    text = "Type 2 diabetes. Insulin given temporarily during this admission only."
    assert "Z79.4" not in shown(stage.apply(cut(real_kb, text, "E11.9"), text))
    text = "Type 2 diabetes on insulin."
    assert "Z79.4" in shown(stage.apply(cut(real_kb, text, "E11.9"), text))


def test_code_also_keeps_the_other_code_with_its_own_words(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Hypertensive urgency in a patient with essential hypertension."
    out = stage.apply(cut(real_kb, text, "I10", "I16.9"), text)
    assert set(shown(out)) == {"I10", "I16.0"}
    text = "Aspiration pneumonia."  # J18's "code also J69" does not keep J18.9 on J69.0's words
    assert shown(stage.apply(cut(real_kb, text, "J69.0", "J18.9"), text)) == ["J69.0"]


def test_documented_as_unrelated_the_link_is_not_presumed(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    def at(text: str, *codes: tuple[str, str]) -> list[Suggestion]:
        out = cut(real_kb, text, *(c for c, _ in codes))
        return [
            replace(s, evidence=(Evidence(text.index(w), text.index(w) + len(w), w),))
            for s, (_, w) in zip(out, codes, strict=True)
        ]

    text = "Essential hypertension. CKD stage 2, not related to the hypertension."
    out = stage.apply(at(text, ("I10", "Essential hypertension"), ("N18.2", "CKD stage 2")), text)
    assert set(shown(out)) == {"I10", "N18.2"}
    text = "Essential hypertension. CKD stage 2."
    out = stage.apply(at(text, ("I10", "Essential hypertension"), ("N18.2", "CKD stage 2")), text)
    assert set(shown(out)) == {"I12.9", "N18.2"}


def test_an_adult_bmi_code_holds_the_value_the_note_states(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    """ "body mass index (BMI) of 40" is Z68.41, whatever BMI code the ranker picked; the
    evidence is the words that state the value. Two BMIs on two codes leave the pick alone."""
    text = "Obesity with a body mass index (BMI) of 40."
    out = by_code(stage.apply(cut(real_kb, text, "E66.9", "Z68.1"), text))
    assert out["Z68.41"].shown and not out["Z68.1"].shown
    assert out["Z68.1"].suppressed_by.rule == "specificity.bmi_value"  # type: ignore[union-attr]
    assert out["Z68.1"].suppressed_by.code == "Z68.41"  # type: ignore[union-attr]
    assert [e.text for e in out["Z68.41"].evidence] == ["body mass index (BMI) of 40"]
    text = "Obesity, BMI 41 in May, BMI 33 today."
    assert "Z68.1" in shown(stage.apply(cut(real_kb, text, "E66.9", "Z68.1"), text))
    text = "Obesity, BMI 95th percentile for age."
    assert "Z68.1" in shown(stage.apply(cut(real_kb, text, "E66.9", "Z68.1"), text))


def test_hypertensive_ckd_takes_the_stage_the_note_states(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    """I12.9 is hypertensive CKD of stage 1-4 or unspecified; beside end-stage renal disease
    (N18.6) the combination is I12.0 (I.C.9.a.2)."""
    text = "Hypertensive chronic kidney disease. End-stage renal disease on dialysis."
    out = by_code(stage.apply(cut(real_kb, text, "I12.9", "N18.6"), text))
    assert out["I12.0"].shown and out["N18.6"].shown and not out["I12.9"].shown


def test_a_specific_code_the_note_states_no_more_of_gives_way(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    # K64.0's inclusion term "hemorrhoids without prolapse ..." is stated by "hemorrhoids",
    # as K64.9 is: the note says nothing of the first degree
    text = "Bleeding hemorrhoids."
    out = stage.apply(cut(real_kb, text, "K64.0", "K64.9"), text)
    assert shown(out) == ["K64.9"]
    assert by_code(out)["K64.0"].suppressed_by.rule == "specificity.not_stated"
    text = "First degree hemorrhoids."
    assert shown(stage.apply(cut(real_kb, text, "K64.0", "K64.9"), text)) == ["K64.0"]


def test_hemorrhage_nec_gives_way_to_the_bleeding_site(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    text = "Hemoptysis. The origin of bleeding was sought."
    out = stage.apply(cut(real_kb, text, "R04.2", "R58"), text)
    assert shown(out) == ["R04.2"]
    assert by_code(out)["R58"].suppressed_by.rule == "integral.hemorrhage_of_a_site"  # type: ignore[union-attr]
    text = "Bleeding. Gastric ulcer."  # an ulcer not said to bleed keeps R58 beside it
    assert shown(stage.apply(cut(real_kb, text, "K25.9", "R58"), text)) == ["K25.9", "R58"]


def test_an_unstated_code_gives_way_to_the_code_its_words_state(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    # "renal insufficiency" is indexed to N28.9; N17.9 says acute kidney failure
    text = "Zoledronic acid, adjusted for renal insufficiency, was given."
    start = text.index("renal insufficiency")
    words = (Evidence(start, start + 19, "renal insufficiency"),)
    suggestions = [
        replace(s, evidence=words) for s in cut(real_kb, text, "N17.9", "N28.9", shown=False)
    ]
    suggestions[0] = replace(
        suggestions[0], shown=True, rationale=why_shown(0.9, 0.3, "present", "inpatient")
    )
    out = stage.apply(suggestions, text)
    assert shown(out) == ["N28.9"]
    assert by_code(out)["N17.9"].suppressed_by.code == "N28.9"  # type: ignore[union-attr]
    n289 = by_code(out)["N28.9"]
    assert [(e.start, e.end) for e in n289.evidence] == [(start, start + 19)]


def test_part_of_the_evidence_words_does_not_replace_the_code(
    stage: Conventions, real_kb: KnowledgeBase
) -> None:
    # "carcinoma" states C80.1, but C64.9 was shown for "renal cell carcinoma"
    text = "Renal cell carcinoma of the kidney."
    words = (Evidence(0, 20, "Renal cell carcinoma"),)
    suggestions = [
        replace(s, evidence=words) for s in cut(real_kb, text, "C64.9", "C80.1", shown=False)
    ]
    suggestions[0] = replace(
        suggestions[0], shown=True, rationale=why_shown(0.9, 0.3, "present", "inpatient")
    )
    assert shown(stage.apply(suggestions, text)) == ["C64.9"]
