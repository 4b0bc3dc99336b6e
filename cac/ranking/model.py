"""The learned ranker and its calibration, as saved by ``training/ranker.py``.

A folder (``models/ranker/``) holds, per code system, a LightGBM lambdarank model
(``<system>.lgb.txt``) scoring a note's candidate codes from :mod:`cac.ranking.features`, an
isotonic calibration (``calibration.json``: raw score knots -> probability that the code is in the
note's gold codes) and ``meta.json`` (feature names, the shown-list thresholds chosen on CodiEsp
dev, training figures). The ranker orders; the calibration turns its score into a confidence that
means what it says.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cac.codesets.records import System
from cac.errors import KnowledgeBaseError
from cac.ranking.features import FEATURES
from cac.ranking.neighbours import NoteNeighbours

FORMAT = "cac-ranker/3"
NEIGHBOURS_DIR = "neighbours"  # the ranker's coded-note memory (cac.ranking.neighbours)
# Columns the ranker adds to the pipeline's features: how often a code was gold when it was a
# candidate on CodiEsp train (smoothed towards the system's base rate), and how often it was one.
CODE_FEATURES = ("code_hit_rate", "code_candidates")
SMOOTHING = 5.0
TIE_BREAK = 2e-6


@dataclass(frozen=True)
class Calibration:
    """A monotone map from raw ranker scores to probabilities (isotonic knots)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Probabilities; strictly increasing in ``raw`` (a step of the isotonic map gets a
        tie-break of at most 2e-6), so ranking by confidence is ranking by the ranker."""
        flat = np.interp(raw, self.x, self.y)
        return (flat * (1 - TIE_BREAK) + TIE_BREAK / 2 * (1 + np.tanh(raw))).astype(np.float64)

    def to_json(self) -> dict[str, list[float]]:
        return {"x": [round(v, 6) for v in self.x], "y": [round(v, 6) for v in self.y]}


@dataclass(frozen=True)
class CodeStats:
    """Per code of one system: (times a candidate, times gold) on the training notes."""

    counts: dict[str, tuple[int, int]]
    base: float

    @classmethod
    def from_labels(cls, codes: list[str], labels: list[int] | npt.NDArray[np.int32]) -> CodeStats:
        counts: dict[str, list[int]] = {}
        for code, label in zip(codes, labels, strict=True):
            seen = counts.setdefault(code, [0, 0])
            seen[0] += 1
            seen[1] += int(label)
        total = sum(n for n, _ in counts.values())
        hits = sum(k for _, k in counts.values())
        return cls({c: (n, k) for c, (n, k) in counts.items()}, hits / total if total else 0.0)

    def columns(self, codes: list[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(codes), len(CODE_FEATURES)), dtype=np.float32)
        for i, code in enumerate(codes):
            n, k = self.counts.get(code, (0, 0))
            out[i] = ((k + SMOOTHING * self.base) / (n + SMOOTHING), n)
        return out

    def to_json(self) -> dict[str, object]:
        return {"base": self.base, "counts": {c: list(v) for c, v in sorted(self.counts.items())}}


class Ranker:
    """Scores and calibrates candidate codes; one booster and calibration per system."""

    def __init__(
        self,
        boosters: dict[System, Any],
        calibrations: dict[System, Calibration],
        meta: dict[str, Any],
        stats: dict[System, CodeStats],
        version: str = "unsaved",
        neighbours: NoteNeighbours | None = None,
    ) -> None:
        self.boosters = boosters
        self.neighbours = neighbours  # the coded-note memory the knn_* features were trained on
        self.calibrations = calibrations
        self.stats = stats
        self.meta = meta
        self.version = version
        self.thresholds = {System(k): float(v) for k, v in meta.get("show_thresholds", {}).items()}

    def systems(self) -> set[System]:
        return set(self.boosters)

    def confidence(
        self, system: System, features: npt.NDArray[np.float32], codes: list[str]
    ) -> npt.NDArray[np.float64]:
        """Calibrated probabilities, one per row of ``features`` (the candidates ``codes``)."""
        if len(features) == 0:
            return np.zeros(0)
        rows = np.hstack([features, self.stats[system].columns(codes)])
        raw = self.boosters[system].predict(rows, num_threads=1)
        return self.calibrations[system](np.asarray(raw, dtype=np.float64))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for system, booster in self.boosters.items():
            booster.save_model(str(directory / f"{system.value}.lgb.txt"))
        (directory / "calibration.json").write_text(
            json.dumps({s.value: c.to_json() for s, c in self.calibrations.items()}, indent=1)
            + "\n",
            encoding="utf-8",
        )
        (directory / "code_stats.json").write_text(
            json.dumps({s.value: c.to_json() for s, c in self.stats.items()}) + "\n",
            encoding="utf-8",
        )
        if self.neighbours is not None:
            self.neighbours.save(directory / NEIGHBOURS_DIR)
        meta = {**self.meta, "format": FORMAT, "features": [*FEATURES, *CODE_FEATURES]}
        (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Ranker:
        """Load a saved ranker.

        Raises:
            KnowledgeBaseError: if the folder is incomplete or was saved with other features.
        """
        import lightgbm

        try:
            meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
            raw = json.loads((directory / "calibration.json").read_text(encoding="utf-8"))
            stats_raw = json.loads((directory / "code_stats.json").read_text(encoding="utf-8"))
            boosters = {
                System(name): lightgbm.Booster(model_file=str(directory / f"{name}.lgb.txt"))
                for name in raw
            }
        except (OSError, ValueError, lightgbm.basic.LightGBMError) as exc:
            raise KnowledgeBaseError(
                f"ranker in {directory} is missing or incomplete ({type(exc).__name__}); "
                "train it with 'python -m training.ranker'"
            ) from None
        if meta.get("format") != FORMAT or tuple(meta.get("features", ())) != (
            *FEATURES,
            *CODE_FEATURES,
        ):
            raise KnowledgeBaseError(
                f"ranker in {directory} was trained on other features; retrain it with "
                "'python -m training.ranker'"
            )
        calibrations = {
            System(name): Calibration(tuple(c["x"]), tuple(c["y"])) for name, c in raw.items()
        }
        stats = {
            System(name): CodeStats(
                {c: (int(v[0]), int(v[1])) for c, v in entry["counts"].items()},
                float(entry["base"]),
            )
            for name, entry in stats_raw.items()
        }
        memory = directory / NEIGHBOURS_DIR
        neighbours = NoteNeighbours.load(memory) if memory.is_dir() else None
        digest = hashlib.sha256()
        for path in sorted([*directory.glob("*"), *memory.glob("*")]):
            if path.suffix in (".txt", ".json", ".npz") and path.name != "training_report.json":
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
        version = f"lgbm-ranker@{digest.hexdigest()[:12]}"
        return cls(boosters, calibrations, meta, stats, version, neighbours)
