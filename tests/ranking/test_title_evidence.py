"""How much of a candidate's title the note says: lexical cover, static vectors, and the rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cac.codesets.records import System
from cac.kb.store import KnowledgeBase
from cac.ranking.features import FEATURES, CodeCandidate, NoteContext, feature_matrix
from cac.ranking.neighbours import NoteNeighbours
from cac.ranking.title_evidence import (
    NO_TITLE,
    TITLE_FEATURES,
    StaticVectors,
    TitleEvidence,
    title_words,
)

D = System.ICD10CM
PLAIN = (D, "E119")  # Type 2 diabetes mellitus without complications
HYPER = (D, "E1165")  # Type 2 diabetes mellitus with hyperglycemia
FEMUR = (D, "S72001")  # Fracture of unspecified part of neck of right femur
COL = {name: i for i, name in enumerate(TITLE_FEATURES)}

NOTE = "Type 2 diabetes mellitus, poorly controlled.\nHyperglycaemia at 300 mg/dl today."


def test_title_words_drop_coding_boilerplate() -> None:
    assert title_words(
        "Fracture of unspecified part of neck of right femur, initial encounter"
    ) == [
        "fracture",
        "neck",
        "right",
        "femur",
    ]


def test_cover_in_note_sentence_and_sentence_pair(mini_kb: KnowledgeBase) -> None:
    columns = TitleEvidence(mini_kb).columns(NOTE, [HYPER, PLAIN, FEMUR])
    hyper = columns[HYPER]
    # every word of the title is in the note ("hyperglycaemia" meets "hyperglycemia" by stem),
    # but "hyperglycemia" is in the second sentence only
    assert hyper[COL["title_cover"]] == pytest.approx(1.0)
    assert hyper[COL["title_cover_sentence"]] == pytest.approx(2 / 3)  # "type" is boilerplate
    assert hyper[COL["title_cover_two_sentences"]] == pytest.approx(1.0)
    assert hyper[COL["title_missing"]] == 0
    assert hyper[COL["distinct_cover"]] == pytest.approx(1.0)  # what it adds to E11: said
    assert hyper[COL["category_cover"]] == pytest.approx(1.0)
    plain = columns[PLAIN]
    assert plain[COL["title_missing"]] == 1  # "complications"
    assert plain[COL["title_cover"]] == pytest.approx(2 / 3)
    assert plain[COL["distinct_cover"]] == pytest.approx(0.0)
    # the sibling the note names is the category's best; the other falls behind it
    assert hyper[COL["title_cover_vs_category"]] == 0.0
    assert plain[COL["title_cover_vs_category"]] == pytest.approx(-1 / 3)
    assert columns[FEMUR][COL["title_cover"]] == 0.0
    assert columns[FEMUR][COL["title_missing"]] == 4


def test_rare_words_weigh_more(mini_kb: KnowledgeBase) -> None:
    memory = NoteNeighbours.build(
        [(f"type 2 diabetes mellitus note {i} with complications", []) for i in range(5)], k=2
    )
    weighted = TitleEvidence(mini_kb, memory.weight)
    note = "type 2 diabetes mellitus with complications"
    # "hyperglycemia" is in no memory note: missing it costs more than a common word would
    cover = weighted.columns(note, [HYPER])[HYPER][COL["title_cover"]]
    assert cover < TitleEvidence(mini_kb).columns(note, [HYPER])[HYPER][COL["title_cover"]]
    assert memory.weight("hyperglycemia") > memory.weight("diabetes")


def test_codes_without_a_title_are_left_out(mini_kb: KnowledgeBase) -> None:
    assert TitleEvidence(mini_kb).columns(NOTE, [(D, "Z999")]) == {}
    assert TitleEvidence(mini_kb).columns("", [HYPER])[HYPER][COL["title_cover"]] == 0.0


class WordTokenizer:
    """A stand-in for a word-piece tokenizer: one id per known word."""

    def __init__(self, words: list[str]) -> None:
        self.ids = {w: i for i, w in enumerate(words)}

    def __call__(self, text: Any, add_special_tokens: bool = False) -> dict[str, Any]:
        def encode(t: str) -> list[int]:
            return [self.ids[w] for w in title_words(t) if w in self.ids]

        if isinstance(text, list):
            return {"input_ids": [encode(t) for t in text]}
        return {"input_ids": encode(text)}


def test_static_similarity_finds_the_window_that_says_the_title(mini_kb: KnowledgeBase) -> None:
    words = ["type", "diabetes", "mellitus", "hyperglycemia", "fracture", "neck", "right", "femur"]
    rng = np.random.default_rng(0)
    vectors = StaticVectors(WordTokenizer(words), rng.normal(size=(len(words), 16)))
    evidence = TitleEvidence(mini_kb, vectors=vectors)
    note = "x-ray: fracture of the right femur neck, no diabetes known. fell at home"
    columns = evidence.columns(note, [FEMUR, HYPER])
    similarity = COL["title_similarity"]
    assert columns[FEMUR][similarity] == pytest.approx(1.0, abs=1e-5)  # one window has it all
    assert columns[HYPER][similarity] < 0.9
    assert columns[FEMUR][COL["title_similarity_vs_category"]] == 0.0


def test_feature_rows_carry_the_title_columns() -> None:
    values = tuple(float(i) for i in range(len(TITLE_FEATURES)))
    note = NoteContext(100, frozenset(), title={HYPER: values})
    candidates = [CodeCandidate(*HYPER), CodeCandidate(*PLAIN)]
    rows = feature_matrix(candidates, note, {}, {})
    first = FEATURES.index(TITLE_FEATURES[0])
    assert tuple(rows[0, first : first + len(TITLE_FEATURES)]) == values
    assert tuple(rows[1, first : first + len(TITLE_FEATURES)]) == NO_TITLE


def test_the_caches_stay_bounded(mini_kb: KnowledgeBase) -> None:
    words = ["diabetes", "mellitus", "hyperglycemia", "fracture", "neck", "femur"]
    vectors = StaticVectors(WordTokenizer(words), np.eye(len(words)))
    evidence = TitleEvidence(mini_kb, vectors=vectors, cached=2)
    first = evidence.columns(NOTE, [HYPER, PLAIN])
    evidence.columns(NOTE, [FEMUR])
    assert len(evidence._titles) <= 2 and len(evidence._title_vectors) <= 2
    assert evidence.columns(NOTE, [HYPER, PLAIN]) == first  # refilled, same figures
