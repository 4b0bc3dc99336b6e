"""The CodiEsp scorer against hand-computed cases."""

from __future__ import annotations

import pytest

from eval.scoring import average_precision, clean_ranking, mean_average_precision, micro_prf


def test_average_precision_by_hand() -> None:
    # gold {a, b, c}; hits at ranks 1 and 3: (1/1 + 2/3) / 3
    assert average_precision(["a", "x", "b", "y"], {"a", "b", "c"}) == pytest.approx(
        (1 + 2 / 3) / 3
    )
    assert average_precision([], {"a"}) == 0.0
    assert average_precision(["a", "b"], {"a", "b"}) == 1.0


def test_ranking_is_lowercased_deduplicated_and_filtered() -> None:
    valid = {"e11.9", "r51"}.__contains__
    assert clean_ranking(["E11.9", "e11.9", "ZZZ", "R51"], valid) == ["e11.9", "r51"]


def test_duplicates_do_not_count_twice() -> None:
    # without de-duplication the second "A" would add a spurious hit at rank 2
    assert mean_average_precision({"d1": ["A", "a", "b"]}, {"d1": ["a", "b"]}) == pytest.approx(
        (1 / 1 + 2 / 2) / 2
    )


def test_invalid_codes_are_removed_before_ranking() -> None:
    valid = {"a", "b"}.__contains__
    # "junk" removed, so "b" moves from rank 3 to rank 2
    score = mean_average_precision({"d1": ["a", "junk", "b"]}, {"d1": ["a", "b"]}, valid)
    assert score == pytest.approx(1.0)


def test_documents_without_predictions_count_as_zero() -> None:
    gold = {"d1": ["a"], "d2": ["b"]}
    assert mean_average_precision({"d1": ["a"]}, gold) == pytest.approx(0.5)


def test_micro_prf_by_hand() -> None:
    prf = micro_prf({"d1": ["a", "b"], "d2": ["c"]}, {"d1": ["a"], "d2": ["c", "d"]})
    assert (prf.true_positives, prf.predicted, prf.gold) == (2, 3, 3)
    assert prf.precision == pytest.approx(2 / 3) and prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 / 3)
