from __future__ import annotations

from pathlib import Path

import pytest

from eval.plots import (
    chapter,
    ece_interval,
    expected_calibration_error,
    plot_reliability,
    recall_by_chapter,
    reliability,
)
from eval.run import Prediction


def _p(doc: str, code: str, confidence: float, shown: bool = True) -> Prediction:
    return Prediction(doc, "D", code, 1, confidence, shown)


def test_reliability_bins_and_ece() -> None:
    preds = [
        _p("a", "i10", 0.95),
        _p("a", "e11.9", 0.91),
        _p("a", "r52", 0.15),
        _p("b", "j18.9", 0.12),
    ]
    gold = {"a": ["I10", "R52"], "b": ["N39.0"]}
    bins = reliability(preds, gold, "D")
    assert [(b.low, b.count) for b in bins] == [(0.1, 2), (0.9, 2)]
    low, high = bins
    assert low.precision == 0.5 and high.precision == 0.5
    assert expected_calibration_error(bins) == pytest.approx(
        0.5 * abs(0.135 - 0.5) + 0.5 * abs(0.93 - 0.5)
    )


def test_chapters_and_recall_per_chapter(tmp_path: Path) -> None:
    assert chapter("I10") == "IX circulatory" and chapter("s72.001") == "XIX injury"
    assert chapter("Z80.3") == "XXI factors"
    preds = [_p("a", "i10", 0.9), _p("a", "j18.9", 0.9, shown=False)]
    recall = recall_by_chapter(preds, {"a": ["I10", "J18.9", "I50.9"]})
    assert recall["IX circulatory"] == (2, 0.5)
    assert recall["X respiratory"] == (1, 0.0)
    plot_reliability({"D": reliability(preds, {"a": ["I10"]}, "D")}, tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_ece_interval_resamples_documents() -> None:
    # Every document alike: each resampling has the same ECE, so the interval is a point.
    same = [_p(d, "i10", 0.8) for d in "abcd"]
    gold = {d: ["I10"] for d in "abcd"}
    low, high = ece_interval(same, gold, "D", samples=50)
    assert low == pytest.approx(0.2) and high == pytest.approx(0.2)
    # One document right at 0.9, one wrong at 0.9: a resampling holds a twice (ECE 0.1),
    # b twice (0.9) or both (0.4), so the interval spans 0.1 to 0.9.
    mixed = [_p("a", "i10", 0.9), _p("b", "i10", 0.9)]
    low, high = ece_interval(mixed, {"a": ["I10"], "b": ["R52"]}, "D", samples=200)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.9)
    point = expected_calibration_error(reliability(mixed, {"a": ["I10"], "b": ["R52"]}, "D"))
    assert low <= point <= high
