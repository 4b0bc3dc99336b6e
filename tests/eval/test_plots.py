from __future__ import annotations

from pathlib import Path

import pytest

from eval.plots import (
    chapter,
    expected_calibration_error,
    plot_reliability,
    recall_by_chapter,
    reliability,
)
from eval.run import Prediction


def _p(doc: str, code: str, confidence: float, shown: bool = True) -> Prediction:
    return Prediction(doc, "D", code, 1, confidence, shown)


def test_reliability_bins_and_ece() -> None:
    preds = [_p("a", "i10", 0.95), _p("a", "e11.9", 0.91), _p("a", "r52", 0.15), _p("b", "j18.9", 0.12)]
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
