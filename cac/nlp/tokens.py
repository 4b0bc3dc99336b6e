"""Normalised word tokens with character offsets into the original text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Token:
    """A lower-cased word and where it sits in the input (``text[start:end]``)."""

    norm: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Alphanumeric runs, lower-cased, with offsets; punctuation is dropped."""
    return [Token(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def normalize_phrase(text: str) -> tuple[str, ...]:
    """The token tuple a phrase matches on (``"Type-2 Diabetes"`` -> ``("type", "2", ...)``)."""
    return tuple(t.norm for t in tokenize(text))
