"""The clinical sentence splitter (``cac_sentences``) and negation scope across its boundaries."""

from __future__ import annotations

import pytest
import spacy
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.language import Language

import cac.nlp.sentences  # noqa: F401 - registers "cac_sentences"
from cac.nlp.context import AssertionAnnotator


@pytest.fixture(scope="module")
def nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.tokenizer = combined_rule_tokenizer(nlp)
    nlp.add_pipe("cac_sentences")
    return nlp


def sentences(nlp: Language, text: str) -> list[str]:
    return [s.text.strip() for s in nlp(text).sents if s.text.strip()]


def test_headers_and_numbered_lists(nlp: Language) -> None:
    text = "PROBLEMS:\n1. Hypertension\n2. Type 2 diabetes mellitus\n- chronic kidney disease\n"
    assert sentences(nlp, text) == [
        "PROBLEMS:",
        "1. Hypertension",
        "2. Type 2 diabetes mellitus",
        "- chronic kidney disease",
    ]


def test_full_stops_and_abbreviations(nlp: Language) -> None:
    text = (
        "Seen by Dr. Smith on 3.5.2019. He has pneumonia. Pt. denies pain. Given 2.5 mg. No fever!"
    )
    assert sentences(nlp, text) == [
        "Seen by Dr. Smith on 3.5.2019.",
        "He has pneumonia.",
        "Pt. denies pain.",
        "Given 2.5 mg.",
        "No fever!",
    ]


def test_wrapped_lines_stay_one_sentence(nlp: Language) -> None:
    assert sentences(nlp, "The pain was\nradiating to the arm. Then it stopped.") == [
        "The pain was\nradiating to the arm.",
        "Then it stopped.",
    ]


def test_lines_without_full_stops_split(nlp: Language) -> None:
    assert sentences(nlp, "Hypertension\nDiabetes") == ["Hypertension", "Diabetes"]


def test_every_token_has_a_boundary_flag(nlp: Language) -> None:
    doc = nlp("  \nFever. Cough\n\n")
    assert all(token.is_sent_start is not None for token in doc)


def test_negation_does_not_cross_a_list_item() -> None:
    text = "1. No chest pain\n2. Pneumonia"
    annotator = AssertionAnnotator()
    chest, pneumonia = text.index("chest pain"), text.index("Pneumonia")
    first, second = annotator.annotate(text, [(chest, chest + 10), (pneumonia, pneumonia + 9)])
    assert first.assertion == "negated"
    assert second.assertion == "present"
