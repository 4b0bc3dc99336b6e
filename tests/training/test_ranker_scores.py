"""The ranker's dev figures: MAP, the shown list's P/R/F1, and calibration error of the whole
ranked list and of the shown part only."""

from __future__ import annotations

import pytest

from training.ranker import calibration_error, scores_on


def test_calibration_error_is_the_count_weighted_gap_per_bin() -> None:
    # bin 0.8-0.9: confidence 0.85, 1 of 2 right -> gap 0.35; bin 0.1-0.2: 0.15, 0 of 2 -> 0.15
    scored = [(0.85, True), (0.85, False), (0.15, False), (0.15, False)]
    assert calibration_error(scored) == pytest.approx((2 * 0.35 + 2 * 0.15) / 4)
    assert calibration_error([(0.95, True), (0.05, False)]) == pytest.approx(0.05)
    assert calibration_error([]) == 0.0


def test_shown_list_error_ignores_the_tail_below_the_threshold() -> None:
    ranked = {
        "a": [("x1", 0.9), ("x2", 0.9), ("x3", 0.02), ("x4", 0.02)],
        "b": [("y1", 0.9), ("y2", 0.02)],
    }
    gold = {"a": ["X1", "X2", "X9"], "b": ["Y2"]}
    s = scores_on(ranked, gold, threshold=0.5)
    # shown: x1, x2 (right), y1 (wrong) at 0.9 -> precision 2/3, gap |0.9 - 2/3|
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 4)
    assert s["ece_shown"] == pytest.approx(0.9 - 2 / 3)
    # the whole list adds the 0.02 tail: x3, x4 wrong, y2 right (1 of 3)
    whole = (3 * abs(0.9 - 2 / 3) + 3 * abs(0.02 - 1 / 3)) / 6
    assert s["ece"] == pytest.approx(whole)
    # AP: a = (1/1 + 2/2) / 3, b = (1/2) / 1
    assert s["map"] == pytest.approx(((2 / 3) + 0.5) / 2)
