"""Merging TF-IDF and dense candidate lists."""

from __future__ import annotations

from cac.linking.fusion import Fusion, reciprocal_rank, weighted


def test_a_code_both_retrievers_rank_high_beats_one_that_only_one_ranks_first() -> None:
    tfidf = [("A", 0.9), ("B", 0.8), ("C", 0.1)]
    dense = [("D", 0.95), ("B", 0.9), ("E", 0.2)]
    merged = [code for code, _ in reciprocal_rank(tfidf, dense, k=60.0)]
    assert merged[0] == "B"
    assert set(merged) == {"A", "B", "C", "D", "E"}


def test_weighted_gives_a_missing_code_the_lowest_listed_score() -> None:
    tfidf = [("A", 0.9), ("B", 0.5)]
    dense = [("C", 0.8), ("A", 0.6)]
    scores = dict(weighted(tfidf, dense, weight=0.5))
    assert scores["A"] == 0.75
    assert scores["B"] == 0.5 * 0.6 + 0.5 * 0.5  # dense low for B: 0.6
    assert scores["C"] == 0.5 * 0.8 + 0.5 * 0.5


def test_fusion_falls_back_to_one_list_when_the_other_is_empty() -> None:
    only = [("A", 0.9), ("B", 0.4)]
    for fusion in (Fusion("rrf", 60.0), Fusion("weighted", 0.5)):
        assert [c for c, _ in fusion.merge(only, [])] == ["A", "B"]
        assert [c for c, _ in fusion.merge([], only)] == ["A", "B"]
