"""The phrase lexicon: normalised phrases -> candidate codes, each with a learned precision.

Entries come from the knowledge base (short code titles, inclusion terms, PCS index terms, CPT
synonyms) and from phrases aligned to gold codes in CodiEsp train (``training/lexicon.py``). Each
entry's ``precision`` is estimated on train: of the train documents where the phrase occurs, the
share whose gold holds the code. Saved as one JSON file with a manifest header.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cac.codesets.records import System
from cac.errors import KnowledgeBaseError
from cac.nlp.tokens import Token

FORMAT = "cac-lexicon/1"
MAX_PHRASE_TOKENS = 8


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    """One phrase -> code pairing."""

    system: System
    code: str
    precision: float
    source: str  # "kb" or "train"


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """A lexicon phrase found in a text, with its span and candidate codes."""

    start: int
    end: int
    phrase: str
    entries: tuple[LexiconEntry, ...]


class Lexicon:
    """Phrase lookup with longest-match scanning over tokens."""

    def __init__(self, phrases: dict[str, tuple[LexiconEntry, ...]], meta: dict[str, Any]) -> None:
        self.phrases = phrases
        self.meta = meta
        self.max_tokens = max((p.count(" ") + 1 for p in phrases), default=0)

    def __len__(self) -> int:
        return len(self.phrases)

    def find(self, tokens: list[Token], text: str) -> Iterator[PhraseMatch]:
        """Every lexicon phrase in ``tokens`` that does not cross a line break."""
        n = len(tokens)
        for i in range(n):
            parts: list[str] = []
            for j in range(i, min(n, i + self.max_tokens)):
                if j > i and "\n" in text[tokens[j - 1].end : tokens[j].start]:
                    break
                parts.append(tokens[j].norm)
                entries = self.phrases.get(" ".join(parts))
                if entries:
                    yield PhraseMatch(tokens[i].start, tokens[j].end, " ".join(parts), entries)

    def save(self, path: Path) -> None:
        payload = {
            "format": FORMAT,
            "meta": self.meta,
            "phrases": {
                phrase: [[e.system.value, e.code, round(e.precision, 4), e.source] for e in entries]
                for phrase, entries in sorted(self.phrases.items())
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a saved lexicon.

        Raises:
            KnowledgeBaseError: if the file is missing or of another format.
        """
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                payload = json.load(handle)
        except (OSError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"lexicon {path} is missing or unreadable ({type(exc).__name__}); "
                "rebuild it with 'make lexicon'"
            ) from None
        if payload.get("format") != FORMAT:
            raise KnowledgeBaseError(f"lexicon {path} has format {payload.get('format')!r}")
        phrases = {
            phrase: tuple(LexiconEntry(System(s), c, float(p), src) for s, c, p, src in entries)
            for phrase, entries in payload["phrases"].items()
        }
        return cls(phrases, payload.get("meta", {}))
