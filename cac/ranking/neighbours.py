"""Codes of similar, already coded notes: a note-level candidate source and ranking feature.

A :class:`NoteNeighbours` memory holds coded notes as TF-IDF vectors (words and word pairs,
sublinear term frequency, L2-normalised) with their final codes. For a new note it finds the
``k`` most similar notes by cosine similarity and gives every code they carry a
:class:`NeighbourVote`: the similarity-weighted share of those notes that have the code, how many
have it, and the similarity of the nearest one that has it. Frequent codes that a note implies
without naming ("hypertension" behind a drug list, a procedure behind its findings) are the ones
mention linking misses and neighbours find.

The memory is built from training notes (CodiEsp train) and, in the feedback loop, from audited
notes. It stores term weights, not text, and keeps only terms seen in at least ``min_df`` notes,
so that a word of one note (a name, a date) is never stored; it is still derived from notes and
belongs with the models, not in logs.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from cac.codesets.records import System
from cac.errors import CacError

FORMAT = "cac-neighbours/1"
NEIGHBOURS = 20
MIN_DF = 2
_WORD = re.compile(r"[a-z][a-z0-9]+")
_STOP = frozenset(
    re.findall(
        r"\w+",
        "the and was with for that this from were are has had have not but his her she him they "
        "which who after before into than then there their been also any all its our out per",
    )
)

Code = tuple[System, str]


@dataclass(frozen=True, slots=True)
class NeighbourVote:
    """What a note's nearest coded notes say about one code."""

    share: float  # similarity-weighted share of the neighbours that have the code
    votes: int  # how many of the neighbours have it
    nearest: float  # cosine similarity of the most similar neighbour that has it


def terms(text: str) -> list[str]:
    """Lower-cased words of two or more characters (less a few stop words) and adjacent pairs."""
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class NoteNeighbours:
    """A memory of coded notes; :meth:`votes` is cheap (one sparse product) and thread-safe."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        idf: npt.NDArray[np.float32],
        matrix: sparse.csr_matrix,
        codes: list[frozenset[Code]],
        k: int = NEIGHBOURS,
    ) -> None:
        if matrix.shape != (len(codes), len(vocabulary)) or len(idf) != len(vocabulary):
            raise CacError("neighbour memory is inconsistent (rows, codes and terms differ)")
        self.vocabulary = vocabulary
        self.idf = idf
        self.matrix = matrix
        self.codes = codes
        self.k = k

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def build(
        cls, notes: Iterable[tuple[str, Iterable[Code]]], k: int = NEIGHBOURS, min_df: int = MIN_DF
    ) -> NoteNeighbours:
        """A memory of ``(text, codes)`` pairs; terms in fewer than ``min_df`` notes are dropped."""
        counted: list[Counter[str]] = []
        codes: list[frozenset[Code]] = []
        for text, note_codes in notes:
            counted.append(Counter(terms(text)))
            codes.append(frozenset(note_codes))
        df: Counter[str] = Counter(t for c in counted for t in c)
        kept = sorted(t for t, n in df.items() if n >= min_df)
        vocabulary = {t: i for i, t in enumerate(kept)}
        n = len(counted)
        idf = np.asarray([_idf(n, df[t]) for t in kept], dtype=np.float32)
        empty = cls(vocabulary, idf, sparse.csr_matrix((0, len(kept)), dtype=np.float32), [], k)
        rows = [empty._vector(c) for c in counted]
        matrix = sparse.vstack(rows, format="csr") if rows else empty.matrix
        return cls(vocabulary, idf, matrix.astype(np.float32), codes, k)

    def _vector(self, counts: Counter[str]) -> sparse.csr_matrix:
        items = [(self.vocabulary[t], c) for t, c in counts.items() if t in self.vocabulary]
        cols = np.asarray([i for i, _ in items], dtype=np.int32)
        tf = np.asarray([1.0 + math.log(c) for _, c in items], dtype=np.float32)
        values = tf * self.idf[cols] if len(cols) else tf
        norm = float(np.linalg.norm(values))
        if norm > 0:
            values = values / norm
        return sparse.csr_matrix(
            (values, (np.zeros(len(cols), dtype=np.int32), cols)),
            shape=(1, len(self.vocabulary)),
            dtype=np.float32,
        )

    def weight(self, word: str) -> float:
        """Inverse document frequency of ``word`` among the coded notes (that of a word no note
        has when the memory does not keep it)."""
        index = self.vocabulary.get(word)
        if index is not None:
            return float(self.idf[index])
        return _idf(len(self.codes), 0)

    def votes(self, text: str) -> dict[Code, NeighbourVote]:
        """Every code of the ``k`` notes most similar to ``text`` (none with similarity 0)."""
        if not self.codes:
            return {}
        similarity = np.asarray((self.matrix @ self._vector(Counter(terms(text))).T).todense())
        similarity = similarity.ravel()
        k = min(self.k, len(similarity))
        nearest = [int(i) for i in np.argpartition(-similarity, k - 1)[:k] if similarity[i] > 0]
        total = float(sum(similarity[i] for i in nearest))
        if total <= 0:
            return {}
        weight: dict[Code, float] = {}
        count: Counter[Code] = Counter()
        best: dict[Code, float] = {}
        for i in nearest:
            s = float(similarity[i])
            for code in sorted(self.codes[i]):  # a fixed order: candidates follow it
                weight[code] = weight.get(code, 0.0) + s
                count[code] += 1
                best[code] = max(best.get(code, 0.0), s)
        return {c: NeighbourVote(weight[c] / total, count[c], best[c]) for c in weight}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        sparse.save_npz(directory / "matrix.npz", self.matrix, compressed=True)
        meta = {
            "format": FORMAT,
            "k": self.k,
            "notes": len(self.codes),
            "terms": [t for t, _ in sorted(self.vocabulary.items(), key=lambda kv: kv[1])],
            "idf": [round(float(v), 6) for v in self.idf],
            "codes": [sorted(f"{s.value}:{c}" for s, c in note) for note in self.codes],
        }
        (directory / "neighbours.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> NoteNeighbours:
        try:
            meta = json.loads((directory / "neighbours.json").read_text(encoding="utf-8"))
            matrix = sparse.load_npz(directory / "matrix.npz").tocsr()
        except (OSError, ValueError) as exc:
            raise CacError(f"cannot read the neighbour memory in {directory.name}/") from exc
        if meta.get("format") != FORMAT:
            raise CacError(f"{directory.name}/ is not a {FORMAT} neighbour memory")
        codes = [
            frozenset((System(s), c) for s, c in (item.split(":", 1) for item in note))
            for note in meta["codes"]
        ]
        vocabulary = {t: i for i, t in enumerate(meta["terms"])}
        idf = np.asarray(meta["idf"], dtype=np.float32)
        return cls(vocabulary, idf, matrix.astype(np.float32), codes, int(meta["k"]))


def _idf(notes: int, df: int) -> float:
    """Smoothed inverse document frequency of a term in ``df`` of ``notes`` notes."""
    return math.log((1 + notes) / (1 + df)) + 1.0


def vote_columns(vote: NeighbourVote | None) -> tuple[float, float, float]:
    """The three ranking features of a code's vote (zeros when no neighbour has the code)."""
    if vote is None:
        return (0.0, 0.0, 0.0)
    return (vote.share, float(vote.votes), vote.nearest)


def candidate_codes(votes: Mapping[Code, NeighbourVote], systems: Iterable[System]) -> list[Code]:
    """The voted codes of the given systems, best share first."""
    wanted = set(systems)
    return sorted((c for c in votes if c[0] in wanted), key=lambda c: (-votes[c].share, c[1]))
