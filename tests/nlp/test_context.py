"""medspaCy ConText and sections over mention spans."""

from __future__ import annotations

import pytest

from cac.nlp.context import AssertionAnnotator


@pytest.fixture(scope="module")
def annotator() -> AssertionAnnotator:
    return AssertionAnnotator()


@pytest.mark.parametrize(
    ("text", "mention", "assertion"),
    [
        ("No evidence of pneumonia.", "pneumonia", "negated"),
        ("Mother had breast cancer.", "breast cancer", "family"),
        ("Probable pneumonia.", "pneumonia", "possible"),
        ("Rule out appendicitis.", "appendicitis", "possible"),
        ("History of kidney stones.", "kidney stones", "historical"),
        ("s/p lap chole", "lap chole", "historical"),
        ("Patient presents with pneumonia.", "pneumonia", "present"),
        # our rule replaces medspaCy's forward-only "ruled out"
        ("Pulmonary embolism ruled out by CT angiogram.", "Pulmonary embolism", "negated"),
        ("We ruled out pneumonia.", "pneumonia", "negated"),
        ("Sacral pressure ulcer, completely healed.", "Sacral pressure ulcer", "historical"),
        ("Colon cancer resected three years ago.", "Colon cancer", "historical"),
        ("Colon cancer resected today.", "Colon cancer", "present"),
        ("Inconclusive HIV serology.", "HIV", "possible"),
        # "no history of interest" (no relevant past history) negates nothing after it
        (
            "Patient with no history of interest diagnosed with Crohn's disease.",
            "Crohn's disease",
            "present",
        ),
        ("No relevant medical history, presenting with pneumonia.", "pneumonia", "present"),
        ("No personal history of heart disease.", "heart disease", "negated"),
        (
            "Type 2 diabetes mellitus without complications.",
            "Type 2 diabetes mellitus without complications",
            "present",
        ),
        # a result after its test: "X negative", "tests for X were negative"
        ("Serologies: HBsAg negative, HIV negative, and syphilis negative.", "HIV", "negated"),
        ("Serologies: HBsAg negative, HIV negative, and syphilis negative.", "syphilis", "negated"),
        ("The tests for thrombophilia were negative.", "thrombophilia", "negated"),
        ("Influenza swab came back negative.", "Influenza", "negated"),
        ("Blood cultures were negative for MRSA.", "MRSA", "negated"),
        # criteria not met: the diagnosis is not made
        ("The Duke criteria for endocarditis were not satisfied.", "endocarditis", "negated"),
        ("She did not meet criteria for sepsis.", "sepsis", "negated"),
        ("Criteria for sepsis were met.", "sepsis", "present"),
        ("PE negative on CT angiography.", "PE", "negated"),
        # a treatment weighed, not given
        (
            "We initially considered hemodialysis or peritoneal dialysis.",
            "peritoneal dialysis",
            "hypothetical",
        ),
        (
            "Initially considering hemodialysis or peritoneal dialysis.",
            "peritoneal dialysis",
            "hypothetical",
        ),
        ("Surgical resection was considered.", "Surgical resection", "hypothetical"),
        ("Surgical resection was performed.", "Surgical resection", "present"),
        # "negative" before a diagnosis describes it
        ("Triple negative breast cancer was diagnosed.", "breast cancer", "present"),
        (
            "Gram negative rods in the urine; urinary tract infection.",
            "urinary tract infection",
            "present",
        ),
    ],
)
def test_assertions(annotator: AssertionAnnotator, text: str, mention: str, assertion: str) -> None:
    start = text.index(mention)
    (span,) = annotator.annotate(text, [(start, start + len(mention))])
    assert span.assertion == assertion


def test_a_span_holding_a_trigger_leaves_it_to_the_others(annotator: AssertionAnnotator) -> None:
    """ "HIV negative" as a span of its own (a lexicon phrase) would make ConText drop the
    trigger "negative" for every mention; it is asserted apart, and "HIV" stays negated."""
    text = "HIV negative. Family history of diabetes."
    spans = [
        _at(text, "HIV negative"),
        _at(text, "HIV"),
        _at(text, "Family history of diabetes"),
        _at(text, "diabetes"),
    ]
    got = [s.assertion for s in annotator.annotate(text, spans)]
    assert got[1] == "negated" and got[3] == "family"


def _at(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def test_family_history_section(annotator: AssertionAnnotator) -> None:
    text = "Family history: diabetes.\nHPI: chest pain."
    spans = annotator.annotate(text, [(16, 24), (text.index("chest"), text.index("chest") + 10)])
    assert spans[0].assertion == "family" and spans[0].section == "family_history"
    assert spans[1].assertion == "present"


def test_overlapping_mentions_each_get_an_assertion(annotator: AssertionAnnotator) -> None:
    text = "No renal colic."
    spans = annotator.annotate(text, [(3, 14), (9, 14)])
    assert [s.assertion for s in spans] == ["negated", "negated"]


def test_parse_finds_abbreviations_the_note_defines() -> None:
    annotator = AssertionAnnotator()
    text = "Known chronic kidney disease (CKD).\nCKD stable."
    parsed = annotator.parse(text)
    uses = sorted((a.start, a.end, a.long_form) for a in parsed.abbreviations)
    assert uses == [
        (30, 33, "chronic kidney disease"),
        (36, 39, "chronic kidney disease"),
    ]
    (asserted,) = annotator.annotate(parsed, [(36, 39)])
    assert asserted.assertion == "present"
