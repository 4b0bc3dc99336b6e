"""Evidence per suggestion (cac.coding.evidence): which supports state a code, the tagger's
check on borrowed spans, cue widening, the inferred gate and the offset check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cac.codesets.records import CodeRecord, System
from cac.coding import evidence
from cac.coding.records import Evidence, Suggestion
from cac.ranking.features import CodeCandidate, Support

AF = CodeRecord(System.ICD10CM, "I4891", "Unspecified atrial fibrillation")
EDEMA = CodeRecord(System.ICD10CM, "R609", "Edema, unspecified")
CXR = CodeRecord(System.ICD10PCS, "BW03ZZZ", "Plain Radiography of Chest")


def _at(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def _candidate(record: CodeRecord, text: str, *spans: tuple[str, str]) -> CodeCandidate:
    """A candidate supported by ``(words, source)`` spans of ``text``."""
    return CodeCandidate(
        record.system,
        record.code,
        supports=[Support(0.9, source, *_at(text, words)) for words, source in spans],
    )


def _select(
    record: CodeRecord,
    text: str,
    *spans: tuple[str, str],
    tagged: frozenset[tuple[int, int, str]] | None = None,
    assertion: str = "present",
    cues: dict[tuple[int, int], tuple[int, int]] | None = None,
    asserted: dict[tuple[int, int], str] | None = None,
) -> list[str]:
    chosen = evidence.select(
        _candidate(record, text, *spans),
        record,
        text,
        frozenset(),
        cues or {},
        assertion,
        tagged,
        asserted,
    )
    return [e.text for e in chosen]


def test_a_span_states_a_code_when_its_words_share_the_concept() -> None:
    assert evidence.states(AF, "atrial fibrillation")
    assert not evidence.states(EDEMA, "kidney disease")


def test_names_needs_two_concept_words_or_the_only_one() -> None:
    assert evidence.names(EDEMA, "pitting edema")
    assert not evidence.names(AF, "left atrial enlargement")
    assert evidence.names(AF, "new atrial fibrillation")


def test_a_borrowed_span_is_evidence_only_when_it_states_the_code() -> None:
    text = "Type 2 diabetes; atrial fibrillation."
    assert _select(AF, text, ("Type 2 diabetes", "dense"), ("atrial fibrillation", "search")) == [
        "atrial fibrillation"
    ]


def test_with_a_tagger_a_borrowed_span_must_lie_in_a_mention_of_the_codes_kind() -> None:
    text = "Chest pain; chest X-ray clear."
    pain = (*_at(text, "Chest pain"), "DIAGNOSIS")
    xray = (*_at(text, "chest X-ray"), "PROCEDURE")
    spans = (("Chest", "train"), ("chest X-ray", "train"))
    assert _select(CXR, text, *spans, tagged=frozenset({pain, xray})) == ["chest X-ray"]
    # without the tagger (phrase matcher only) the shared word is enough
    assert _select(CXR, text, *spans) == ["Chest", "chest X-ray"]
    # the code's own title or index phrase needs no tagger
    assert _select(CXR, text, ("Chest", "kb"), tagged=frozenset({pain})) == ["Chest"]


def test_a_code_no_support_states_takes_a_mention_that_names_it() -> None:
    text = "Exam: 2+ pitting edema of both ankles."
    mention = (*_at(text, "pitting edema"), "DIAGNOSIS")
    got = _select(EDEMA, text, ("ankles", "votes"), tagged=frozenset({mention}))
    assert got == ["pitting edema"]


HEADACHE = CodeRecord(System.ICD10CM, "R519", "Headache, unspecified")


def test_a_mention_of_another_assertion_is_no_fallback_evidence() -> None:
    """A code reached by votes takes a mention that names it only when the mention carries
    the code's assertion: the mother's headaches are not the patient's R51.9."""
    text = "MRI of the brain normal. His mother has a history of headaches."
    mention = _at(text, "headaches")
    tagged = frozenset({(*mention, "DIAGNOSIS")})
    spans = (("brain", "sibling"),)
    assert _select(HEADACHE, text, *spans, tagged=tagged) == ["headaches"]
    assert _select(HEADACHE, text, *spans, tagged=tagged, asserted={mention: "family"}) == []
    family = _select(
        HEADACHE, text, *spans, tagged=tagged, asserted={mention: "family"}, assertion="family"
    )
    assert family == ["headaches"]


def test_a_span_and_the_tagger_mention_beside_it_name_a_code_together() -> None:
    """The tagger found "radiograph" alone; the lexicon's "chest" beside it makes the pair
    that names *Plain Radiography of Chest*. A word the mention does not touch does not."""
    text = "A chest radiograph showed infiltrates; chest wall normal."
    tagged = frozenset({(*_at(text, "radiograph"), "PROCEDURE")})
    assert _select(CXR, text, ("chest", "cooc"), tagged=tagged) == ["chest radiograph"]
    assert _select(CXR, text, ("chest wall", "cooc"), tagged=tagged) == []


STRESS = CodeRecord(System.ICD10CM, "F439", "Reaction to severe stress, unspecified")
DIABETES = CodeRecord(System.ICD10CM, "E119", "Type 2 diabetes mellitus without complications")
BILIRUBIN = CodeRecord(System.ICD10CM, "E807", "Disorder of bilirubin metabolism, unspecified")


def test_a_modifier_of_another_head_states_no_code() -> None:
    """ "stress" in the tagger's "stress ulcer prophylaxis" modifies "ulcer": no F43.9. A word
    before a head the code's concept has too still states it ("diabetes" of "diabetes
    mellitus")."""
    text = "Started stress ulcer prophylaxis. Known diabetes mellitus type 2."
    tagged = frozenset(
        {
            (*_at(text, "stress ulcer"), "DIAGNOSIS"),
            (*_at(text, "diabetes mellitus type 2"), "DIAGNOSIS"),
        }
    )
    assert _select(STRESS, text, ("stress", "train"), tagged=tagged) == []
    assert _select(DIABETES, text, ("diabetes", "train"), tagged=tagged) == ["diabetes"]


def test_a_known_abbreviation_the_tagger_calls_a_procedure_is_a_test() -> None:
    """A lab analyte's abbreviation ("DBil", direct bilirubin) that the tagger spans as a
    procedure states no diagnosis, known phrase or not."""
    text = "Labs: DBil 4.1 umol/L."
    tagged = frozenset({(*_at(text, "DBil"), "PROCEDURE")})
    assert _select(BILIRUBIN, text, ("DBil", "train"), tagged=tagged) == []


def test_x_ray_is_radiography() -> None:
    assert evidence.names(CXR, "chest X-ray")
    assert evidence.names(CXR, "chest x-rays")
    assert evidence.names(CXR, "CXR")


def test_historical_evidence_is_widened_to_its_cue() -> None:
    text = "History of atrial fibrillation, now in sinus rhythm."
    span = _at(text, "atrial fibrillation")
    cue = _at(text, "History of")
    got = _select(AF, text, ("atrial fibrillation", "kb"), assertion="historical", cues={span: cue})
    assert got == ["History of atrial fibrillation"]
    assert _select(AF, text, ("atrial fibrillation", "kb"), cues={span: cue}) == [
        "atrial fibrillation"
    ]


REFLEX = CodeRecord(System.ICD10CM, "R292", "Abnormal reflex")
RECTAL_BLEEDING = CodeRecord(System.ICD10CM, "K625", "Hemorrhage of anus and rectum")
GERD = CodeRecord(System.ICD10CM, "K219", "Gastro-esophageal reflux disease without esophagitis")


def test_a_known_phrase_states_its_code_as_the_tagger_spans_it() -> None:
    """A phrase CodiEsp's coders gave as a code's evidence (source ``train``) states it with
    no word in common, inside a mention of the code's kind or as a whole tagger span (the
    tagger may label it otherwise); a weak alignment does not."""
    text = "Neurology: hyporeflexia of both legs."
    span = _at(text, "hyporeflexia")
    strong = CodeCandidate(REFLEX.system, REFLEX.code, [Support(0.8, "train", *span)])
    weak = CodeCandidate(REFLEX.system, REFLEX.code, [Support(0.1, "train", *span)])

    def chosen(candidate: CodeCandidate, label: str) -> list[str]:
        tagged = frozenset({(*span, label)})
        found = evidence.select(candidate, REFLEX, text, frozenset(), {}, "present", tagged)
        return [e.text for e in found]

    assert chosen(strong, "DIAGNOSIS") == ["hyporeflexia"]
    assert chosen(strong, "PROCEDURE") == ["hyporeflexia"]
    assert chosen(weak, "DIAGNOSIS") == []


def test_a_borrowed_span_must_name_the_code_not_share_one_word() -> None:
    """ "rectal" shares a word with *Hemorrhage of anus and rectum* but says no hemorrhage;
    the tagger's "rectal bleeding" names it."""
    text = "Rectal ulcer; rectal bleeding for months."
    ulcer = (*_at(text, "Rectal ulcer"), "DIAGNOSIS")
    bleeding = (*_at(text, "rectal bleeding"), "DIAGNOSIS")
    got = _select(RECTAL_BLEEDING, text, ("Rectal", "cooc"), tagged=frozenset({ulcer, bleeding}))
    assert got == ["rectal bleeding"]


def test_a_cue_past_another_listed_condition_is_not_taken_in() -> None:
    text = "Past Medical History: COPD, GERD."
    span, cue = _at(text, "GERD"), _at(text, "History")
    tagged = frozenset({(*_at(text, "COPD"), "DIAGNOSIS"), (*span, "DIAGNOSIS")})
    got = _select(
        GERD, text, ("GERD", "kb"), tagged=tagged, assertion="historical", cues={span: cue}
    )
    assert got == ["GERD"]


def _suggestion(confidence: float, *spans: Evidence) -> Suggestion:
    return Suggestion(
        System.ICD10CM, "I48.91", AF.title, confidence, spans, "present", False, False, True
    )


def test_an_inferred_code_is_shown_only_when_the_ranker_is_confident() -> None:
    text = "Irregularly irregular rhythm."
    low, high = _suggestion(0.3), _suggestion(0.95)
    kept_low, kept_high = evidence.finish([low, high], text)
    assert not kept_low.shown and kept_low.suppressed_by is not None
    assert kept_low.suppressed_by.rule == evidence.INFERRED_RULE
    assert kept_high.shown
    assert kept_high.to_json()["evidence"] == [
        {"start": None, "end": None, "text": "", "kind": "inferred"}
    ]


def test_finish_tidies_nested_spans_and_checks_offsets() -> None:
    text = "atrial fibrillation"
    inner = Evidence(0, 6, "atrial")
    outer = Evidence(0, 19, "atrial fibrillation")
    (out,) = evidence.finish([_suggestion(0.9, inner, outer)], text)
    assert out.evidence == (outer,)
    wrong = _suggestion(0.9, replace(outer, text="atrial flutter!"))
    with pytest.raises(evidence.InternalEvidenceError) as caught:
        evidence.finish([wrong], text)
    assert "fibrillation" not in str(caught.value)  # names the code and offsets, never text


def test_used_stems_count_a_short_form_that_says_the_title() -> None:
    need = frozenset(evidence.stem(w) for w in ("pressure", "ulcer", "heel"))
    used = evidence.used_stems("pressure injury of the heel", need)
    assert evidence.said_stems("injury") <= used
    # a word no short form gives to the title is not used by it
    assert not evidence.said_stems("fracture") <= evidence.used_stems("heel fracture", need)


def test_a_span_takes_the_generic_rest_of_its_mention() -> None:
    cad = CodeRecord(
        System.ICD10CM,
        "I2510",
        "Atherosclerotic heart disease of native coronary artery without angina pectoris",
    )
    text = "With a history of coronary artery disease and situs inversus."
    mention = (*_at(text, "coronary artery disease"), "DIAGNOSIS")
    got = _select(cad, text, ("coronary artery", "train"), tagged=frozenset({mention}))
    assert got == ["coronary artery disease"]
    # a word that is not generic keeps the span short: "failure" of "chronic kidney failure"
    other = "Known chronic kidney failure."
    ckd = CodeRecord(System.ICD10CM, "N189", "Chronic kidney disease, unspecified")
    tagged = frozenset({(*_at(other, "chronic kidney failure"), "DIAGNOSIS")})
    assert _select(ckd, other, ("kidney", "kb"), tagged=tagged) == ["kidney"]
