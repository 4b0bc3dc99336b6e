"""The title matcher: which code titles a note states."""

from __future__ import annotations

from cac.coding.statements import NoteStatements, requirement


def states(text: str, title: str) -> bool:
    return NoteStatements(text).states([requirement(title)]) is not None


def test_word_order_and_nonessential_modifiers() -> None:
    title = "Chronic obstructive pulmonary disease with (acute) exacerbation"
    assert states("Admitted with acute exacerbation of COPD.", title)
    assert states("COPD exacerbation", title)
    assert not states("COPD, stable.", title)


def test_without_clauses_forbid_what_they_name() -> None:
    title = "Calculus of gallbladder without cholecystitis without obstruction"
    assert states("Cholelithiasis.", title)
    assert not states("Cholelithiasis with chronic cholecystitis.", title)


def test_numbers_must_follow_their_word() -> None:
    stage2 = "Chronic kidney disease, stage 2 (mild)"
    assert not states("Type 2 diabetes with chronic kidney disease stage 3", stage2)
    assert states("CKD stage 2", stage2)
    assert states("CKD stage III", "Chronic kidney disease, stage 3 unspecified")


def test_negated_words_do_not_state() -> None:
    title = "Chronic obstructive pulmonary disease with (acute) exacerbation"
    assert not states("COPD without exacerbation.", title)
    assert not states("COPD. No exacerbation.", "Exacerbation of something")


def test_a_finding_denied_after_it_is_not_stated() -> None:
    title = "Ulcer of anus and rectum"
    assert not states("Anus and rectum full of blood, but polyp or ulcer was not detected.", title)
    assert states("Anus and rectum: an ulcer was seen.", title)
    # the denial reaches back within its clause only
    assert states("Ulcer of the rectum and anus was biopsied, but a polyp was not seen.", title)


def test_words_must_share_a_sentence() -> None:
    title = "Hypertensive heart disease with heart failure"
    assert not states("Hypertensive heart disease.\nFather had heart failure.", title)


def test_evidence_span_covers_the_stating_words() -> None:
    text = "Known chronic systolic heart failure."
    weight, start, end = NoteStatements(text).states(
        [requirement("Chronic systolic (congestive) heart failure")]
    ) or (0, 0, 0)
    assert weight == 4 and text[start:end] == "chronic systolic heart failure"


def test_the_tightest_saying_is_the_evidence() -> None:
    text = "CKD stage 2 in a kidney transplant recipient."
    _, start, end = NoteStatements(text).states(
        [requirement("Chronic kidney disease, stage 2 (mild)")]
    ) or (0, 0, 0)
    assert text[start:end] == "CKD stage 2"


def test_a_denied_cause_does_not_state_the_link() -> None:
    title = "Hypertensive chronic kidney disease"
    assert not states("CKD stage 2, not related to the hypertension.", title)
    assert not states("CKD stage 2 unrelated to hypertension.", title)
    assert states("CKD stage 2 due to hypertension.", title)


def test_the_stating_words_stand_close() -> None:
    assert states("Cervical dysphagia since May.", "Cervical dysphagia")
    assert not states(
        "Dysphagia, odynophagia, tachypnea, limited mouth opening and cervical swelling.",
        "Cervical dysphagia",
    )


def test_a_word_the_title_needs_is_not_forbidden_by_its_without_clause() -> None:
    # "without spontaneous rupture of ear drum, left ear" needs "ear", forbids "rupture"
    title = "Acute suppurative otitis media without spontaneous rupture of ear drum, left ear"
    assert states("Acute suppurative otitis media of the left ear.", title)
    assert not states("Acute suppurative otitis media of the left ear with rupture.", title)


def test_the_site_after_foreign_body_is_the_titles() -> None:
    title = "Puncture wound without foreign body of scalp"
    assert not states("Small puncture wounds on the dorsum; no foreign body.", title)
    assert states("Puncture wound of the scalp, no foreign body.", title)


def test_a_condition_suffix_past_the_stem_is_another_word() -> None:
    assert not states("Hemoglobin of 6.9.", "Hemoglobinuria")
    assert states("Hemoglobinuria on urinalysis.", "Hemoglobinuria")


def test_carcinomatosis_is_not_carcinoma() -> None:
    assert not states("Metastatic carcinoma of the colon.", "Carcinomatosis NOS")
    assert states("Peritoneal carcinomatosis.", "Carcinomatosis NOS")
