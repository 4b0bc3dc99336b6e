"""The curated table of clinical abbreviations that notes use without defining them."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from cac.errors import SourceError
from cac.nlp.tokens import normalize_phrase


@lru_cache(maxsize=1)
def load_abbreviations() -> dict[str, str]:
    """``{normalised abbreviation: normalised expansion}`` from ``data/abbreviations.tsv``.

    Raises:
        SourceError: naming the line of a malformed or duplicate entry.
    """
    name = "abbreviations.tsv"
    text = (resources.files("cac.nlp") / "data" / name).read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise SourceError(f"{name}, line {number}: expected abbreviation<TAB>expansion")
        short = " ".join(normalize_phrase(fields[0]))
        long = " ".join(normalize_phrase(fields[1]))
        if not short or not long:
            raise SourceError(f"{name}, line {number}: empty abbreviation or expansion")
        if short in table:
            raise SourceError(f"{name}, line {number}: {short!r} is listed twice")
        table[short] = long
    return table
