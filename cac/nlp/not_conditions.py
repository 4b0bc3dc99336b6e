"""Phrases whose head word names a condition the phrase does not state
(``data/not_conditions.tsv``): "depression" in "LVEF depression", "multiple myeloma" in "multiple
myeloma oncogene 1". A code proposed from words inside such a phrase, other than the whole
phrase, is not proposed."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from cac.errors import SourceError

_FILE = "not_conditions.tsv"


@cache
def patterns() -> tuple[tuple[re.Pattern[str], bool], ...]:
    """The table's patterns, compiled once.

    Raises:
        SourceError: on a row without two fields or whose pattern does not compile (file and
            line named).
    """
    text = (resources.files("cac.nlp") / "data" / _FILE).read_text(encoding="utf-8")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[1] not in ("all", "inside"):
            raise SourceError(f"{_FILE}:{number}: expected pattern, all|inside, what it says")
        try:
            out.append((re.compile(fields[0], re.IGNORECASE), fields[1] == "all"))
        except re.error as exc:
            raise SourceError(f"{_FILE}:{number}: bad pattern ({exc})") from None
    return tuple(out)


def phrases(text: str) -> list[tuple[int, int, bool]]:
    """The spans of ``text`` that are such phrases, each with whether the whole is blocked."""
    return [(*m.span(), whole) for p, whole in patterns() for m in p.finditer(text)]


def inside(span: tuple[int, int], blocked: list[tuple[int, int, bool]]) -> bool:
    """Whether ``span`` lies within one of ``blocked`` (without being all of it, unless the
    whole phrase is blocked)."""
    return any(
        a <= span[0] and span[1] <= b and (whole or span != (a, b)) for a, b, whole in blocked
    )
