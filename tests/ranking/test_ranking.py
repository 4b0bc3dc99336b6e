"""Candidate features, the LightGBM ranker's save/load and calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cac.codesets.records import System
from cac.errors import KnowledgeBaseError
from cac.ranking.features import FEATURES, CodeCandidate, NoteContext, Support, feature_matrix
from cac.ranking.model import CODE_FEATURES, Calibration, CodeStats, Ranker

D = System.ICD10CM


def candidate(code: str, *supports: Support, assertion: str = "present") -> CodeCandidate:
    c = CodeCandidate(D, code, list(supports), {assertion}, {None})
    c.weighted.extend(s.score for s in supports)
    return c


def column(rows: np.ndarray, name: str) -> list[float]:
    return [float(v) for v in rows[:, FEATURES.index(name)]]


def test_features_describe_each_candidate() -> None:
    note = NoteContext(chars=100, tagged=frozenset({(10, 20, "DIAGNOSIS")}))
    parent = candidate("E11", Support(0.4, "cooc", 50, 60))
    child = candidate("E119", Support(0.9, "kb", 10, 20), Support(0.5, "search", 30, 35))
    rows = feature_matrix([parent, child], note, {(D, "E119"): 0.2}, {(D, "E11"): False})
    assert rows.shape == (2, len(FEATURES))
    assert column(rows, "heuristic") == pytest.approx([0.4, 0.9])
    assert column(rows, "spans") == [1, 2]
    assert column(rows, "best_kb") == pytest.approx([0.0, 0.9])
    assert column(rows, "best_search") == pytest.approx([0.0, 0.5])
    assert column(rows, "prior") == pytest.approx([0.0, 0.2])
    assert column(rows, "tagged_share") == [0.0, 0.5]
    assert column(rows, "first_position") == pytest.approx([0.5, 0.1])
    assert column(rows, "needs_specificity") == [1.0, 0.0]
    assert column(rows, "has_descendant") == [1.0, 0.0]
    assert column(rows, "has_ancestor") == [0.0, 1.0]
    assert column(rows, "rank_in_doc") == [1, 0]


def test_no_candidates_gives_no_rows() -> None:
    assert feature_matrix([], NoteContext(10, frozenset()), {}, {}).shape == (0, len(FEATURES))


def test_calibration_interpolates_and_clips() -> None:
    calibration = Calibration((0.0, 1.0, 2.0), (0.1, 0.5, 0.9))
    assert calibration(np.array([-5.0, 0.5, 2.0, 9.0])).tolist() == pytest.approx(
        [0.1, 0.3, 0.9, 0.9], abs=1e-5
    )


def test_calibration_keeps_the_ranker_order_inside_a_flat_step() -> None:
    calibration = Calibration((0.0, 1.0, 2.0), (0.2, 0.2, 0.7))
    out = calibration(np.array([0.1, 0.5, 0.9]))
    assert out.tolist() == pytest.approx([0.2, 0.2, 0.2], abs=1e-5)
    assert out[0] < out[1] < out[2]
    assert ((out >= 0) & (out <= 1)).all()


def _tiny_ranker() -> Ranker:
    import lightgbm

    rng = np.random.default_rng(0)
    x = rng.random((200, len(FEATURES) + len(CODE_FEATURES)), dtype=np.float32)
    y = (x[:, 0] > 0.6).astype(int)  # gold when the heuristic is high
    booster = lightgbm.train(
        {"objective": "lambdarank", "verbose": -1, "min_data_in_leaf": 5, "num_threads": 1},
        lightgbm.Dataset(x, y, group=[20] * 10),
        num_boost_round=20,
    )
    raw = booster.predict(x)
    calibration = Calibration((float(raw.min()), float(raw.max())), (0.05, 0.95))
    stats = CodeStats({"E119": (10, 9)}, 0.1)
    return Ranker({D: booster}, {D: calibration}, {"show_thresholds": {"icd10cm": 0.5}}, {D: stats})


def test_ranker_orders_by_what_it_learned_and_round_trips(tmp_path: Path) -> None:
    ranker = _tiny_ranker()
    rows = np.zeros((2, len(FEATURES)), dtype=np.float32)
    rows[0, 0], rows[1, 0] = 0.9, 0.1
    before = ranker.confidence(D, rows, ["E119", "I10"])
    assert before[0] > before[1]
    assert ((before >= 0) & (before <= 1)).all()
    ranker.save(tmp_path)
    loaded = Ranker.load(tmp_path)
    assert loaded.stats[D] == ranker.stats[D]
    assert loaded.confidence(D, rows, ["E119", "I10"]).tolist() == pytest.approx(
        before.tolist(), abs=1e-5
    )
    assert loaded.thresholds == {D: 0.5}
    assert loaded.version.startswith("lgbm-ranker@")


def test_ranker_trained_on_other_features_is_refused(tmp_path: Path) -> None:
    _tiny_ranker().save(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["features"] = meta["features"][:-1]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(KnowledgeBaseError, match="other features"):
        Ranker.load(tmp_path)


def test_incomplete_ranker_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="missing or incomplete"):
        Ranker.load(tmp_path)


def test_code_stats_smooth_towards_the_base_rate() -> None:
    stats = CodeStats.from_labels(["E119", "E119", "E119", "I10"], [1, 1, 0, 0])
    assert stats.base == pytest.approx(0.5)
    rate, seen = stats.columns(["E119", "I10", "R52"]).T.tolist()
    assert seen == [3, 1, 0]
    assert rate[0] == pytest.approx((2 + 5 * 0.5) / (3 + 5))
    assert rate[1] < 0.5 < rate[0]
    assert rate[2] == pytest.approx(0.5)  # never a candidate: the base rate
