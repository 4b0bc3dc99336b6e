"""Codes a short note states outright: every billable ICD-10-CM title, inclusion term and index
term compiled once (:mod:`cac.coding.statements`) and looked up per sentence.

The lexicon and the tagger were learnt from long case reports; a problem list or a one-line
progress note ("Sprain of left ankle, initial encounter", "Former smoker") often names a code in
its own words and gets nothing from them. This source proposes, per sentence, the most specific
codes whose whole title the sentence states: a code is dropped when another stated code needs
every word it needs and more (E11.21 over E11.9 for "type 2 diabetes with diabetic
nephropathy"). Residual titles ("Other ...") are never stated by their words alone.

Each requirement is filed under its rarest word, so a sentence reads only the titles that could
match it. The index is built on first use (about 5 s for the FY2026 code set) and kept.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

from cac.codesets.records import System
from cac.coding.lexicon import LexiconEntry, PhraseMatch
from cac.coding.statements import (
    NoteStatements,
    Sentence,
    TitleRequirement,
    crosses,
    record_requirements,
)
from cac.kb.store import KnowledgeBase

SOURCE = "title"
# Titles needing fewer stems than this are not proposed.
MIN_STEMS = 1
# At most this many codes per sentence (the most specific first).
PER_SENTENCE = 8
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class StatedCode:
    code: str
    start: int
    end: int
    weight: int


class StatedTitles:
    """The compiled titles of one knowledge base's billable ICD-10-CM codes."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._lock = threading.Lock()
        self._index: dict[str, list[tuple[str, TitleRequirement]]] | None = None

    def index(self) -> dict[str, list[tuple[str, TitleRequirement]]]:
        with self._lock:
            if self._index is None:
                self._index = self._build()
            return self._index

    def _build(self) -> dict[str, list[tuple[str, TitleRequirement]]]:
        compiled = [
            (record.code, req)
            for record in self.kb.records()
            if record.system is System.ICD10CM and record.billable and record.active
            for req in record_requirements(record)
            if not req.residual and len(req.need) >= MIN_STEMS
        ]
        frequency = Counter(s for _, req in compiled for s in req.need)
        index: dict[str, list[tuple[str, TitleRequirement]]] = defaultdict(list)
        for code, req in compiled:
            index[min(req.need, key=lambda s: (frequency[s], s))].append((code, req))
        return dict(index)

    def stated(self, note: NoteStatements) -> list[StatedCode]:
        """The most specific codes each sentence of ``note`` states, with their spans."""
        index = self.index()
        out: list[StatedCode] = []
        for sentence in note.sentences:
            found: dict[str, tuple[TitleRequirement, StatedCode]] = {}
            for key in sentence.stems:
                for code, req in index.get(key, ()):
                    if _states(sentence, req):
                        hit = _hit(sentence, code, req)
                        if not note.compact(hit.start, hit.end, hit.weight):
                            continue
                        if code not in found or hit.weight > found[code][1].weight:
                            found[code] = (req, hit)
            kept = [
                hit
                for code, (req, hit) in found.items()
                if not any(
                    other != code and req.need < more.need for other, (more, _) in found.items()
                )
            ]
            kept = _uncrossed(kept, note.text)
            kept.sort(key=lambda h: (-h.weight, h.code))
            out += kept[:PER_SENTENCE]
        return out

    def matches(self, text: str) -> list[PhraseMatch]:
        """The stated codes as phrase matches (source ``title``) for candidate assembly."""
        note = NoteStatements(text)
        return [
            PhraseMatch(
                hit.start,
                hit.end,
                text[hit.start : hit.end],
                (LexiconEntry(System.ICD10CM, hit.code, 1.0, SOURCE),),
            )
            for hit in self.stated(note)
        ]


def _uncrossed(hits: list[StatedCode], text: str) -> list[StatedCode]:
    """``hits`` less those whose span crosses a tighter one: "heart failure and end stage renal
    disease" states N18.6 in four words, not I50.84 "End stage heart failure" by borrowing
    them. Tightness is the stated words over all the span's words."""

    def tight(h: StatedCode) -> float:
        return h.weight / max(len(_WORD.findall(text[h.start : h.end])), 1)

    def holds(h: StatedCode, o: StatedCode) -> bool:
        """``o`` of ``h``'s category states as much in fewer words: "embolism of right middle
        cerebral artery, with left hemiparesis" says I63.411, not I63.412 with a borrowed side."""
        inside = h.start <= o.start and o.end <= h.end and (o.start, o.end) != (h.start, h.end)
        return inside and o.code[:3] == h.code[:3] and o.weight >= h.weight

    return [
        h
        for h in hits
        if not any(
            (crosses((h.start, h.end), (o.start, o.end)) and tight(o) > tight(h)) or holds(h, o)
            for o in hits
        )
    ]


def _states(sentence: Sentence, req: TitleRequirement) -> bool:
    return (
        req.need <= sentence.stems
        and req.pairs <= sentence.pairs
        and not any(clause & sentence.stems for clause in req.forbid)
        and req.absent <= sentence.negated
        and all(group & sentence.stems for group in req.either)
    )


def _hit(sentence: Sentence, code: str, req: TitleRequirement) -> StatedCode:
    start, end = sentence.span(req.need)
    return StatedCode(code, start, end, req.weight)
