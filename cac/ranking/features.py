"""Document-level candidate codes and the features the learned ranker scores them by.

The coder gathers, for every code a note could get, its *supports*: each span that links to it
(a lexicon phrase, an abbreviation, a knowledge-base search hit or a dense-retrieval hit) with the
source's score; codes that only similar coded notes vote for are candidates with no support.
:func:`feature_matrix` turns a note's candidates of one system into one row of
numbers each, in the order of :data:`FEATURES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cac.codesets.records import System
from cac.ranking.neighbours import NeighbourVote, vote_columns
from cac.ranking.title_evidence import NO_TITLE, TITLE_FEATURES

SOURCES = ("kb", "train", "cooc", "search", "dense", "sibling")
ASSERTIONS = ("present", "possible", "historical", "family")
SECTIONS = ("past_medical_history", "family_history", "diagnoses", "observation_and_plan")

FEATURES: tuple[str, ...] = (
    "heuristic",  # the best weighted support (the pre-ranker confidence)
    "support_sum",
    "supports",
    "spans",
    "sources",
    *(f"best_{s}" for s in SOURCES),
    "expansion_only",
    "prior",
    *(f"assertion_{a}" for a in ASSERTIONS),
    "in_no_section",
    *(f"section_{s}" for s in SECTIONS),
    "tagged_share",
    "first_position",
    "longest_span_chars",
    "code_length",
    "needs_specificity",
    "chapter",
    "subchapter",
    "has_descendant",
    "has_ancestor",
    "rank_in_doc",
    "relative_to_best",
    "candidates_in_doc",
    "note_chars",
    "knn_share",  # similar coded notes (cac.ranking.neighbours) that have the code
    "knn_votes",
    "knn_nearest",
    *TITLE_FEATURES,  # how much of the code's title the note says (cac.ranking.title_evidence)
)


def mention_label(system: System) -> str:
    """The tagger's label for a mention of a code of ``system``."""
    return "DIAGNOSIS" if system is System.ICD10CM else "PROCEDURE"


@dataclass(frozen=True, slots=True)
class Support:
    """One span's link to a code: the source's score (in [0, 1]) and where it came from."""

    score: float
    source: str
    start: int
    end: int


@dataclass
class CodeCandidate:
    """Everything a note says for one code (after billable resolution and guidelines)."""

    system: System
    code: str
    supports: list[Support] = field(default_factory=list)
    assertions: set[str] = field(default_factory=set)
    sections: set[str | None] = field(default_factory=set)
    weighted: list[float] = field(default_factory=list)

    @property
    def heuristic(self) -> float:
        return max(self.weighted, default=0.0)


@dataclass(frozen=True)
class NoteContext:
    """What the features need to know about the note as a whole."""

    chars: int
    tagged: frozenset[tuple[int, int, str]]
    neighbours: Mapping[tuple[System, str], NeighbourVote] = field(default_factory=dict)
    title: Mapping[tuple[System, str], tuple[float, ...]] = field(default_factory=dict)


def _overlaps_tagged(
    start: int, end: int, label: str, tagged: frozenset[tuple[int, int, str]]
) -> bool:
    return any(s < end and start < e and lab == label for s, e, lab in tagged)


def feature_matrix(
    candidates: list[CodeCandidate],
    note: NoteContext,
    priors: dict[tuple[System, str], float],
    billable: dict[tuple[System, str], bool],
) -> npt.NDArray[np.float32]:
    """One row per candidate (all of one system), columns as :data:`FEATURES`."""
    if not candidates:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    heuristics = [c.heuristic for c in candidates]
    best = max(heuristics) or 1.0
    by_heuristic = sorted(range(len(candidates)), key=lambda i: -heuristics[i])
    order = {i: rank for rank, i in enumerate(by_heuristic)}
    codes = {c.code for c in candidates}
    # codes that are a proper prefix of another candidate (a more specific code is a candidate)
    broader = {code[:k] for code in codes for k in range(1, len(code))}
    rows = []
    for i, c in enumerate(candidates):
        label = mention_label(c.system)
        by_source = {s: 0.0 for s in SOURCES}
        for support in c.supports:
            source = support.source if support.source in by_source else "kb"
            by_source[source] = max(by_source[source], support.score)
        spans = {(s.start, s.end) for s in c.supports}
        tagged = sum(_overlaps_tagged(start, end, label, note.tagged) for start, end in spans)
        key = c.code.replace(".", "")
        rows.append(
            [
                c.heuristic,
                sum(c.weighted),
                len(c.supports),
                len(spans),
                len({s.source for s in c.supports}),
                *(by_source[s] for s in SOURCES),
                float(all(s.source == "sibling" for s in c.supports)),
                priors.get((c.system, c.code), 0.0),
                *(float(a in c.assertions) for a in ASSERTIONS),
                float(None in c.sections),
                *(float(s in c.sections) for s in SECTIONS),
                tagged / len(spans) if spans else 0.0,
                min(s.start for s in c.supports) / max(note.chars, 1) if c.supports else 1.0,
                max((s.end - s.start for s in c.supports), default=0),
                len(key),
                float(not billable.get((c.system, c.code), True)),
                ord(key[0]) if key else 0,
                int(key[1], 36) if len(key) > 1 and key[1].isalnum() else 0,
                float(c.code in broader),
                float(any(c.code[:k] in codes for k in range(1, len(c.code)))),
                order[i],
                c.heuristic / best,
                len(candidates),
                note.chars,
                *vote_columns(note.neighbours.get((c.system, c.code))),
                *note.title.get((c.system, c.code), NO_TITLE),
            ]
        )
    return np.asarray(rows, dtype=np.float32)
