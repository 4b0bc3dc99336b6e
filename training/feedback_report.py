"""Figures of the feedback loop for ``notebooks/feedback_loop.ipynb`` (and anyone's own analysis).

* :func:`acceptance_by_confidence`: calibration as coders saw it: of the *shown* model
  suggestions that a coder decided on, the share accepted per confidence bin.
* :func:`plot_acceptance` and :func:`plot_versions`: a reliability plot of that, and the
  evaluation figures of model versions side by side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cac.exports.decisions import NoteRecord

BINS = 10
VERSION_FIGURES = ("dev.D.map", "dev.P.map", "audited.all.map")


@dataclass(frozen=True)
class ConfidenceBin:
    low: float
    high: float
    decided: int
    accepted: int
    mean_confidence: float

    @property
    def acceptance(self) -> float:
        return self.accepted / self.decided if self.decided else 0.0


def acceptance_by_confidence(
    records: Iterable[NoteRecord], bins: int = BINS
) -> list[ConfidenceBin]:
    """Per confidence bin, the decided shown suggestions and how many were accepted (a
    replacement counts as not accepted: the suggested code was wrong)."""
    decided = [[0, 0, 0.0] for _ in range(bins)]
    for record in records:
        for s in record.suggestions:
            if not s.shown or s.confidence is None or not s.decisions:
                continue
            last = max(s.decisions, key=lambda d: d.sequence)
            slot = decided[min(int(s.confidence * bins), bins - 1)]
            slot[0] += 1
            slot[1] += last.action == "accept"
            slot[2] += s.confidence
    return [
        ConfidenceBin(i / bins, (i + 1) / bins, int(n), int(k), total / n if n else 0.0)
        for i, (n, k, total) in enumerate(decided)
    ]


def expected_calibration_error(bins: list[ConfidenceBin]) -> float:
    """Decision-weighted mean gap between confidence and acceptance."""
    total = sum(b.decided for b in bins)
    gaps = sum(b.decided * abs(b.mean_confidence - b.acceptance) for b in bins)
    return gaps / total if total else 0.0


def plot_acceptance(bins: list[ConfidenceBin], path: Path, title: str = "") -> Path:
    """Reliability plot: acceptance share against mean confidence, bin sizes annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    used = [b for b in bins if b.decided]
    ax.plot([b.mean_confidence for b in used], [b.acceptance for b in used], marker="o")
    for b in used:
        ax.annotate(str(b.decided), (b.mean_confidence, b.acceptance), fontsize=7)
    ax.set_xlabel("confidence shown to the coder")
    ax.set_ylabel("share the coder accepted")
    ax.set_title(title or f"ECE {expected_calibration_error(bins):.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_versions(figures: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Grouped bars: each version's :data:`VERSION_FIGURES`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(len(figures), 1)
    for i, (version, values) in enumerate(figures.items()):
        xs = [j + i * width for j in range(len(VERSION_FIGURES))]
        ys = [float(values.get(name, 0.0)) for name in VERSION_FIGURES]
        bars = ax.bar(xs, ys, width, label=f"v{version}")
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks([j + width * (len(figures) - 1) / 2 for j in range(len(VERSION_FIGURES))])
    ax.set_xticklabels(VERSION_FIGURES)
    ax.set_ylabel("MAP")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
