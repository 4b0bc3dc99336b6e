"""Candidate search over the knowledge base: TF-IDF neighbours re-scored with rapidfuzz."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from cac.codesets.records import System
from cac.errors import CacError
from cac.kb.store import KnowledgeBase

# Weights of the blended score; chosen on the held-out inclusion-term benchmark (make bench-kb).
_W_TFIDF = 0.5
_W_SORT = 0.25
_W_SET = 0.25
_NEIGHBOURS = 64


@dataclass(frozen=True, slots=True)
class Candidate:
    """One code proposed for a piece of text, with the evidence for the score."""

    system: System
    code: str
    display: str
    title: str
    score: float
    tfidf: float
    fuzzy: float
    matched_alias: str
    billable: bool
    demo: bool
    kind: str
    source: str = "tfidf"


def _alias_score(query: str, alias: str, cosine: float) -> tuple[float, float]:
    token_sort = fuzz.token_sort_ratio(query, alias) / 100.0
    token_set = fuzz.token_set_ratio(query, alias) / 100.0
    fuzzy = (_W_SORT * token_sort + _W_SET * token_set) / (_W_SORT + _W_SET)
    return _W_TFIDF * cosine + _W_SORT * token_sort + _W_SET * token_set, fuzzy


class CodeSearcher:
    """Search one or all code systems of a knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def search(
        self,
        text: str,
        system: System | None = None,
        limit: int = 10,
        *,
        billable_only: bool = False,
    ) -> list[Candidate]:
        """Best codes for ``text``, best first.

        Args:
            text: A mention or free-text description.
            system: Restrict to one system; all systems when None.
            limit: Maximum number of candidates.
            billable_only: Drop grouping nodes and non-billable codes.

        Raises:
            CacError: for empty text or a non-positive limit.
        """
        query = " ".join(text.lower().split())
        if not query:
            raise CacError("search text is empty; give a few words to search for")
        if limit < 1:
            raise CacError("limit must be at least 1")
        systems = [system] if system is not None else self.kb.systems
        found: list[Candidate] = []
        for sys_ in systems:
            found.extend(self._search_system(query, sys_, billable_only))
        found.sort(key=lambda c: (-c.score, not c.billable, c.code))
        return found[:limit]

    def _search_system(self, query: str, system: System, billable_only: bool) -> list[Candidate]:
        neighbours = self.kb.index(system).query([query], _NEIGHBOURS)[0]
        scored: dict[str, tuple[float, float, float, str]] = {}
        for candidate in neighbours:
            for alias, cosine in zip(candidate.aliases, candidate.similarities, strict=True):
                score, fuzzy = _alias_score(query, alias, cosine)
                best = scored.get(candidate.concept_id)
                if best is None or score > best[0]:
                    scored[candidate.concept_id] = (score, cosine, fuzzy, alias)
        records = self.kb.get_many(system, list(scored))
        out = []
        for code, (score, cosine, fuzzy, alias) in scored.items():
            record = records.get(code)
            if record is None or not record.active:
                continue
            if billable_only and not record.billable:
                continue
            out.append(
                Candidate(
                    system=system,
                    code=code,
                    display=record.display,
                    title=record.title,
                    score=round(score, 4),
                    tfidf=round(cosine, 4),
                    fuzzy=round(fuzzy, 4),
                    matched_alias=alias,
                    billable=record.billable,
                    demo=record.demo,
                    kind=record.kind,
                )
            )
        return out
