"""Which code titles a note states: the matcher the specificity and combination rules read.

A code's title is compiled into what the note must say (Guidelines I.A conventions):

* words in parentheses are ICD's nonessential modifiers and are optional
  ("Systolic (congestive) heart failure" needs "systolic heart failure");
* "unspecified", "other", "NOS" and other words that state no axis are dropped;
* a "with X" clause needs X; a "without X" clause needs X *not* stated;
* word order is free within one sentence ("acute exacerbation of COPD" states
  "Chronic obstructive pulmonary disease with (acute) exacerbation");
* the note's abbreviations (``cac/nlp/data/abbreviations.tsv``) and a few word equivalences
  (``data/word_equivalents.tsv``: "cholelithiasis" ~ "calculus of gallbladder") are expanded;
* a title's inclusion terms are alternative titles.

A word preceded closely by "no", "without", "denies" or "negative for" does not count as stated.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from cac.codesets.records import CodeRecord, System
from cac.errors import SourceError

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.;!?])\s+|\n+")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_CLAUSE = re.compile(r"\b(with|without|and without|and with)\b")
STEM = 9
# Title words that state no axis the note must mention.
_STOP = frozenset(
    re.findall(
        r"\w+",
        "unspecified other of and the in to not elsewhere classified specified or by for as a "
        "an on at from nos any all unsp more than one site part",
    )
)
# Words whose negation a few words earlier means the note does not state what follows.
_NEGATORS = frozenset({"no", "without", "denies", "denied", "negative", "not", "nor"})
_NEGATION_REACH = 3


def stem(word: str) -> str:
    """A crude stem: the first characters, plurals folded ("stages" ~ "stage")."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:STEM]


def content_stems(text: str) -> frozenset[str]:
    """The stems a phrase requires: its words less parentheses and the stop words."""
    return frozenset(
        stem(w) for w in _WORD.findall(_PAREN.sub(" ", text.lower())) if w not in _STOP
    )


@dataclass(frozen=True, slots=True)
class TitleRequirement:
    """What a note must (``need``) and must not (``forbid``) say to state one title."""

    need: frozenset[str]
    forbid: tuple[frozenset[str], ...] = ()
    # (word, number) pairs that must be adjacent: "stage 3" is not "stage ... 3"
    pairs: frozenset[tuple[str, str]] = frozenset()

    @property
    def weight(self) -> int:
        """How much the title says: its required stems (a more specific title says more)."""
        return len(self.need)


def requirement(title: str) -> TitleRequirement:
    """Compile a title: the head and "with" clauses are needed, "without" clauses forbidden."""
    text = _PAREN.sub(" ", title.lower())
    parts = _CLAUSE.split(text)
    need = set(content_stems(parts[0]))
    forbid: list[frozenset[str]] = []
    for i in range(1, len(parts) - 1, 2):
        clause = content_stems(parts[i + 1])
        if not clause:
            continue
        if "without" in parts[i]:
            forbid.append(clause)
        else:
            need |= clause
    words = [stem(w) for w in _WORD.findall(text) if w not in _STOP]
    pairs = {(a, b) for a, b in itertools.pairwise(words) if _numbered(b)}
    return TitleRequirement(frozenset(need), tuple(forbid), frozenset(pairs))


def _numbered(word: str) -> bool:
    """A number or a numbered value ("3", "3a"): it must follow its word in the note."""
    return word[:1].isdigit()


def record_requirements(record: CodeRecord) -> tuple[TitleRequirement, ...]:
    """The title, each inclusion term and each index term of an ICD-10-CM code, compiled
    (empty ones dropped)."""
    from cac.coding.index_terms import index_terms

    extra = index_terms().get(record.code, ()) if record.system is System.ICD10CM else ()
    out = []
    for text in (record.title, *record.synonyms, *extra):
        req = requirement(text)
        if req.need:
            out.append(req)
    return tuple(out)


def _read_pairs(name: str, package: str) -> list[tuple[str, str]]:
    text = (resources.files(package) / "data" / name).read_text(encoding="utf-8")
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise SourceError(f"{name}, line {number}: expected 2 tab-separated fields")
        pairs.append((fields[0].strip().lower(), fields[1].strip().lower()))
    return pairs


@cache
def expansions() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Word sequences and what they also say: the abbreviation table and word equivalences."""
    pairs = _read_pairs("abbreviations.tsv", "cac.nlp") + _read_pairs(
        "word_equivalents.tsv", "cac.coding"
    )
    return tuple((tuple(_WORD.findall(a)), tuple(_WORD.findall(b))) for a, b in pairs)


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    stems: frozenset[str]
    negated: frozenset[str]  # stems the sentence says are absent ("no", "without" shortly before)
    pairs: frozenset[tuple[str, str]]  # adjacent (word, number) stems
    # first offset of each stem, for evidence spans
    where: dict[str, tuple[int, int]]


class NoteStatements:
    """A note read once into sentences of stems; :meth:`states` then answers per title."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sentences = [self._sentence(m.start(), m.end()) for m in _spans(text)]
        self.all_stems: frozenset[str] = frozenset().union(*(s.stems for s in self.sentences))

    def _sentence(self, start: int, end: int) -> Sentence:
        words = [
            (m.group(), start + m.start(), start + m.end())
            for m in _WORD.finditer(self.text[start:end].lower())
        ]
        stems: set[str] = set()
        negated: set[str] = set()
        where: dict[str, tuple[int, int]] = {}
        norms = [w for w, _, _ in words]
        denied = _denied(norms)
        for i, (word, s, e) in enumerate(words):
            key = stem(word)
            (negated if denied[i] else stems).add(key)
            where.setdefault(key, (s, e))
        for short, long in expansions():
            n = len(short)
            for i in range(len(norms) - n + 1):
                if tuple(norms[i : i + n]) == short:
                    span = (words[i][1], words[i + n - 1][2])
                    for word in long:
                        key = stem(word)
                        (negated if denied[i] else stems).add(key)
                        where.setdefault(key, span)
        keys = [stem(w) for w in norms]
        pairs = {(a, b) for a, b in itertools.pairwise(keys) if _numbered(b)}
        for short, long in expansions():
            if any(_numbered(w) for w in long):
                n = len(short)
                for i in range(len(norms) - n + 1):
                    if tuple(norms[i : i + n]) == short:
                        expanded = [stem(w) for w in long]
                        if i > 0 and _numbered(expanded[0]):
                            pairs.add((keys[i - 1], expanded[0]))
                        pairs.update(
                            (a, b) for a, b in itertools.pairwise(expanded) if _numbered(b)
                        )
        return Sentence(
            start, end, frozenset(stems - negated), frozenset(negated), frozenset(pairs), where
        )

    def states(self, requirements: Iterable[TitleRequirement]) -> tuple[int, int, int] | None:
        """The best-stated title among ``requirements`` as (weight, start, end) of the words
        that state it in one sentence, or None when no sentence states any."""
        best: tuple[int, int, int] | None = None
        for req in requirements:
            for sentence in self.sentences:
                if not req.need <= sentence.stems or not req.pairs <= sentence.pairs:
                    continue
                if any(clause & sentence.stems for clause in req.forbid):
                    continue
                offsets = [sentence.where[s] for s in req.need]
                found = (req.weight, min(o[0] for o in offsets), max(o[1] for o in offsets))
                if best is None or found[0] > best[0]:
                    best = found
                break
        return best

    def mentions(self, stems: frozenset[str]) -> bool:
        """Whether one sentence says all of ``stems`` (not negated)."""
        return any(stems <= s.stems for s in self.sentences)


def _denied(words: list[str]) -> list[bool]:
    """Per word: whether a negating word stands at most ``_NEGATION_REACH`` words before it."""
    out = []
    last = -100
    for i, word in enumerate(words):
        if word in _NEGATORS:
            last = i
        out.append(0 < i - last <= _NEGATION_REACH)
    return out


def _spans(text: str) -> Iterable[re.Match[str]]:
    return re.finditer(r"[^\n.;!?]+(?:[.;!?](?=\S)[^\n.;!?]*)*", text)
