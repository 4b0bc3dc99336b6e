"""How much of a candidate code's title the note itself says: ranking features.

Many candidates carry no span of their own (codes that similar notes vote for, siblings of a
linked code), and a linked code's span may name only part of it. Whether the note says what the
code's title says tells the ranker which of them the note is about:

* **lexical**: the share of the title's content words (cut to their first ``STEM`` letters, so
  that "hydronephrotic" meets "hydronephrosis") found in the note, in its best sentence and in
  its best pair of adjacent sentences, each word weighted by its inverse document frequency among
  coded notes; what the title adds to its three-character category's title and whether the note
  says that; how much weight is missing;
* **static vectors**: the best cosine between the title and any eight-word window of the note,
  each the mean of the tagger's (MiniLM) input word-piece embeddings, so no transformer pass;
* both **relative to the code's category**: the candidate's figure less the best of the note's
  candidates of the same category (which sibling the note names).

:class:`TitleEvidence` computes them for every candidate of a note at once; the values per code
go into :class:`cac.ranking.features.NoteContext` and from there into the feature rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cac.codesets.records import System
from cac.kb.store import KnowledgeBase

Code = tuple[System, str]
Vectors = npt.NDArray[np.float32]

TITLE_FEATURES: tuple[str, ...] = (
    "title_cover",  # weighted share of the title's words in the note
    "title_cover_sentence",  # ... in its best sentence
    "title_cover_two_sentences",  # ... in its best pair of adjacent sentences
    "title_missing",  # title words the note lacks
    "title_missing_weight",  # their summed weight
    "category_cover",  # weighted share of the category title's words in the note (-1: none)
    "distinct_cover",  # ... of the words the title adds to its category's title (-1: none)
    "title_cover_vs_category",  # title_cover less the best of the category's candidates
    "title_similarity",  # best cosine of static title and note-window vectors
    "title_similarity_vs_category",  # title_similarity less the best of the category's
)
# A code whose title has no content word (or that the knowledge base lacks).
NO_TITLE = (-1.0,) * 5 + (-1.0, -1.0, 0.0, 0.0, 0.0)

STEM = 6
# Codes whose title figures are kept between notes; past it the caches start over, so a
# long-running service holds at most this many (a title vector is 384 floats).
CACHED_CODES = 20_000
WINDOW = 8  # words per note window for the static vectors
STRIDE = 4
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.;:!?])\s+|\n+")
# Words of code titles that say nothing about what the note must mention.
_STOP = frozenset(
    re.findall(
        r"\w+",
        "unspecified other of and with without the in due to not elsewhere classified specified "
        "or by for as a an on at from site type part nos any all unsp more than one initial "
        "encounter subsequent sequela use additional code approach open percutaneous",
    )
)


def title_words(text: str) -> list[str]:
    """Lower-cased content words of at least two characters (title stop words dropped)."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP]


def stem(word: str) -> str:
    return word[:STEM]


class StaticVectors:
    """Mean input word-piece embeddings of a MiniLM tokenizer and embedding table, L2-normalised
    (a bag of word pieces: no transformer pass, so a note costs one tokenisation)."""

    def __init__(self, tokenizer: Any, table: Vectors) -> None:
        self.tokenizer = tokenizer
        self.table = table

    def encode(self, text: str) -> Vectors:
        return self._bag(self.tokenizer(text.lower(), add_special_tokens=False)["input_ids"])

    def windows(self, text: str) -> Vectors:
        """One vector per window of ``WINDOW`` words, every ``STRIDE`` words."""
        words = text.lower().split()
        starts = range(0, max(1, len(words) - WINDOW // 2), STRIDE)
        chunks = [" ".join(words[i : i + WINDOW]) for i in starts]
        if not chunks:
            return np.zeros((0, self.table.shape[1]), dtype=np.float32)
        encoded = self.tokenizer(chunks, add_special_tokens=False)["input_ids"]
        return np.stack([self._bag(ids) for ids in encoded])

    def _bag(self, ids: list[int]) -> Vectors:
        """The unit mean of the pieces' embeddings (zeros without pieces)."""
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        return _unit(self.table[ids].mean(axis=0))


def _unit(vector: npt.NDArray[Any]) -> Vectors:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


@dataclass(frozen=True)
class _Words:
    """Stems of a title's content words (one per stem) with their words' weights."""

    stems: tuple[str, ...]
    weights: npt.NDArray[np.float64]

    def cover(self, stems: Container[str]) -> float:
        """The weighted share of these stems found in ``stems``."""
        present = np.asarray([s in stems for s in self.stems], dtype=bool)
        return float(self.weights[present].sum()) / float(self.weights.sum())


@dataclass(frozen=True)
class _Title:
    """A code's title words, those it adds to its category's title, and the category's."""

    words: _Words
    distinct: _Words | None
    category: _Words | None


@dataclass(frozen=True)
class NoteTerms:
    """What a note says, in the form the title features compare against: its stems (a column
    each), which of them each sentence and each pair of adjacent sentences has (0/1 rows), and
    the static vectors of its windows."""

    stems: dict[str, int]
    sentences: npt.NDArray[np.float64]
    pairs: npt.NDArray[np.float64]
    windows: Vectors


class TitleEvidence:
    """Title features for a note's candidates; word weights from ``weight`` (inverse document
    frequency of a word among coded notes), static vectors when ``vectors`` is given.

    Titles are looked up in the knowledge base once per code and kept (up to ``cached`` codes);
    :meth:`columns` is thread-safe (a racing fill of a cache writes the same value, and a cache
    that starts over is replaced, not emptied under a reader).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        weight: Callable[[str], float] | None = None,
        vectors: StaticVectors | None = None,
        cached: int = CACHED_CODES,
    ) -> None:
        self.kb = kb
        self.weight = weight or (lambda _word: 1.0)
        self.vectors = vectors
        self.cached = cached
        self._titles: dict[Code, _Title | None] = {}
        self._title_vectors: dict[Code, Vectors] = {}

    def note(self, text: str) -> NoteTerms:
        sentences = [{stem(w) for w in title_words(s)} for s in _SENTENCE.split(text) if s.strip()]
        columns = {s: i for i, s in enumerate(sorted(set().union(*sentences)))}
        has = np.zeros((max(len(sentences), 1), max(len(columns), 1)), dtype=np.float64)
        for row, found in enumerate(sentences):
            has[row, [columns[s] for s in found]] = 1.0
        pairs = np.maximum(has[:-1], has[1:]) if len(has) > 1 else has
        windows = (
            self.vectors.windows(text)
            if self.vectors is not None
            else np.zeros((0, 1), dtype=np.float32)
        )
        return NoteTerms(columns, has, pairs, windows)

    def columns(self, text: str, codes: Iterable[Code]) -> dict[Code, tuple[float, ...]]:
        """Per code, the values of :data:`TITLE_FEATURES` (:data:`NO_TITLE` for a code whose
        title has no content word)."""
        note = self.note(text)
        titles = {code: title for code in codes if (title := self._title(code)) is not None}
        if not titles:
            return {}
        # one row per code: its title words' weights in the note's stem columns
        weights = np.zeros((len(titles), note.sentences.shape[1]), dtype=np.float64)
        totals = np.zeros(len(titles), dtype=np.float64)
        missing: list[npt.NDArray[np.bool_]] = []
        for row, title in enumerate(titles.values()):
            words = title.words
            totals[row] = words.weights.sum()
            missing.append(np.asarray([s not in note.stems for s in words.stems], dtype=bool))
            for s, w in zip(words.stems, words.weights, strict=True):
                if s in note.stems:
                    weights[row, note.stems[s]] = w
        in_sentence = (note.sentences @ weights.T).max(axis=0) / totals
        in_pair = (note.pairs @ weights.T).max(axis=0) / totals
        similarity = self._similarities(list(titles), note)
        raw: dict[Code, list[float]] = {}
        for row, (code, title) in enumerate(titles.items()):
            raw[code] = [
                float(weights[row].sum() / totals[row]),
                float(in_sentence[row]),
                float(in_pair[row]),
                float(missing[row].sum()),
                float(title.words.weights[missing[row]].sum()),
                title.category.cover(note.stems) if title.category else -1.0,
                title.distinct.cover(note.stems) if title.distinct else -1.0,
                float(similarity[row]),
            ]
        best_cover: dict[tuple[System, str], float] = {}
        best_similarity: dict[tuple[System, str], float] = {}
        for (system, value), values in raw.items():
            group = (system, value[:3])
            best_cover[group] = max(best_cover.get(group, 0.0), values[0])
            best_similarity[group] = max(best_similarity.get(group, -1.0), values[-1])
        out: dict[Code, tuple[float, ...]] = {}
        for (system, value), values in raw.items():
            group = (system, value[:3])
            out[(system, value)] = (
                *values[:-1],
                values[0] - best_cover[group],
                values[-1],
                values[-1] - best_similarity[group],
            )
        return out

    def _similarities(self, codes: list[Code], note: NoteTerms) -> npt.NDArray[np.float64]:
        """Per code, the best cosine of its title's static vector and a note window (0 without
        vectors)."""
        if self.vectors is None or not len(note.windows):
            return np.zeros(len(codes), dtype=np.float64)
        if len(self._title_vectors) + len(codes) > self.cached:
            self._title_vectors = {}
        known = self._title_vectors
        for code in codes:
            if code not in known:
                record = self.kb.get(*code)
                known[code] = self.vectors.encode(record.title if record else "")
        titles = np.stack([known[c] for c in codes])
        best: npt.NDArray[np.float64] = (note.windows @ titles.T).max(axis=0).astype(np.float64)
        return best

    def _title(self, code: Code) -> _Title | None:
        known = self._titles
        if code not in known:
            if len(known) >= self.cached:
                known = self._titles = {}
            known[code] = self._read_title(code)
        return known[code]

    def _read_title(self, code: Code) -> _Title | None:
        system, value = code
        record = self.kb.get(system, value)
        if record is None:
            return None
        words = self._words(title_words(record.title))
        if words is None:
            return None
        category = None
        if system is System.ICD10CM:
            parent = self.kb.get(system, value[:3])
            category = self._words(title_words(parent.title)) if parent else None
        inside = set(category.stems) if category else set()
        distinct = self._words([w for w in title_words(record.title) if stem(w) not in inside])
        return _Title(words, distinct, category)

    def _words(self, words: list[str]) -> _Words | None:
        """One entry per stem (its first word's weight), or None without words."""
        by_stem: dict[str, float] = {}
        for word in words:
            by_stem.setdefault(stem(word), self.weight(word))
        if not by_stem:
            return None
        return _Words(tuple(by_stem), np.asarray(list(by_stem.values()), dtype=np.float64))
