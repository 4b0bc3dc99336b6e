"""Where a note's phrase matches come from besides the lexicon's own: abbreviations the note
defines, knowledge-base search for tagger spans the lexicon does not cover, and dense-retrieval
hits per tagger span. Each source is a :class:`~cac.coding.lexicon.PhraseMatch` list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cac.codesets.records import System
from cac.coding.lexicon import Lexicon, LexiconEntry, PhraseMatch
from cac.linking.search import CodeSearcher
from cac.nlp.context import ParsedNote
from cac.nlp.tokens import normalize_phrase, tokenize

if TYPE_CHECKING:
    from cac.linking.dense import DenseRetriever

# Dense retrieval: the best DENSE_TOP codes of the span's system for every tagger span.
DENSE_TOP = 5
DENSE_SYSTEMS = {"DIAGNOSIS": System.ICD10CM, "PROCEDURE": System.ICD10PCS}
# A tagger span the lexicon does not cover is linked to this many search candidates, scored
# SOURCE_WEIGHTS["search"] * (search score - SEARCH_FLOOR) / (1 - SEARCH_FLOOR).
SEARCH_TOP = 2
SEARCH_FLOOR = 0.6
# Procedure spans are not searched: linking them by string search cost P MAP on CodiEsp dev
# (0.357 -> 0.339); ICD-10-PCS titles read nothing like notes.
_SEARCH_SYSTEMS = {"DIAGNOSIS": System.ICD10CM}


class MatchSources:
    """The match sources besides the lexicon, over one knowledge base and lexicon."""

    def __init__(
        self, lexicon: Lexicon, searcher: CodeSearcher, dense: DenseRetriever | None = None
    ) -> None:
        self.lexicon = lexicon
        self.searcher = searcher
        self.dense = dense

    def abbreviations(self, parsed: ParsedNote, matches: list[PhraseMatch]) -> list[PhraseMatch]:
        """Each use of an abbreviation the note defines, with the codes of its long form."""
        out = []
        for abbreviation in parsed.abbreviations:
            long_form = " ".join(normalize_phrase(abbreviation.long_form))
            entries = self.lexicon.phrases.get(long_form)
            if entries is None:
                inside = list(self.lexicon.find(tokenize(long_form), long_form))
                if not inside:
                    continue
                longest = max(inside, key=lambda m: (m.end - m.start, -m.start))
                entries = longest.entries
            out.append(PhraseMatch(abbreviation.start, abbreviation.end, long_form, entries))
        return out

    def searched(
        self, tagged: list[tuple[int, int, str]], matches: list[PhraseMatch], text: str
    ) -> list[PhraseMatch]:
        """Tagger spans the lexicon does not cover, linked by knowledge-base search.

        (Searching the covered spans too, as low-weight alternatives, cost D MAP on dev: 0.383.)
        """
        covered = {(m.start, m.end) for m in matches}
        out = []
        for start, end, label in tagged:
            system = _SEARCH_SYSTEMS.get(label)
            query = text[start:end]
            if system is None or (start, end) in covered or not any(c.isalpha() for c in query):
                continue
            entries = tuple(
                LexiconEntry(
                    system,
                    c.code,
                    (c.score - SEARCH_FLOOR) / (1 - SEARCH_FLOOR),
                    "search",
                )
                for c in self.searcher.search(query, system, limit=SEARCH_TOP)
                if c.score > SEARCH_FLOOR
            )
            if entries:
                out.append(PhraseMatch(start, end, query, entries))
        return out

    def dense_hits(self, tagged: list[tuple[int, int, str]], text: str) -> list[PhraseMatch]:
        """Every tagger span's nearest codes by the bi-encoder (one batched encode per note)."""
        if self.dense is None or not tagged:
            return []
        spans = [(s, e, label) for s, e, label in tagged if label in DENSE_SYSTEMS]
        if not spans:
            return []
        vectors = self.dense.encode([text[s:e] for s, e, _ in spans])
        out = []
        for label, system in DENSE_SYSTEMS.items():
            rows = [i for i, (_, _, lab) in enumerate(spans) if lab == label]
            if not rows:
                continue
            hits = self.dense.search_vectors(vectors[rows], system, DENSE_TOP)
            for i, found in zip(rows, hits, strict=True):
                start, end, _ = spans[i]
                entries = tuple(
                    LexiconEntry(system, code, max(0.0, score), "dense") for code, score in found
                )
                if entries:
                    out.append(PhraseMatch(start, end, text[start:end], entries))
        return out
