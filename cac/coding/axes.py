"""Exclusive axes (``data/exclusive_axes.tsv``): one CKD stage, one acuity of one heart-failure
type, one hypertension code, one diabetes type, one encounter type per injury, one stage per
pressure-ulcer site. Each row cites its guideline section; a bad row fails with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from cac.codesets.records import normalize_code
from cac.coding.rules import CodePattern, any_match, check_section, load_table, parse_patterns

_COLUMNS = ("id", "section", "codes", "group", "detail")


@dataclass(frozen=True, slots=True)
class Axis:
    """Codes matching ``codes`` are alternatives within one group: ``all`` (one per note),
    ``category`` (one 3-character category; codes of one category coexist), ``prefixN``
    (codes sharing their first N characters) or ``rankN:ORDER`` (codes equal but for their
    character N, counted from 0 without the dot, form a hierarchy: the one whose character N
    comes first in ORDER is kept, F10.20 dependence over F10.10 abuse)."""

    id: str
    section: str
    codes: tuple[CodePattern, ...]
    group: str
    detail: str

    def key(self, code: str) -> str | None:
        """The group ``code`` (normalised) falls in on this axis, or None if it is off it."""
        if not any_match(self.codes, code):
            return None
        if self.group == "all":
            return ""
        if self.group == "category":
            return ""
        if self.group.startswith("rank"):
            at = int(self.group[4:].split(":")[0])
            return code[:at] + code[at + 1 :] if len(code) > at else None
        width = int(self.group.removeprefix("prefix"))
        if self.id == "injury_encounter" and len(code) != 7:
            return None  # only codes with a 7th character have an encounter
        return code[:width]

    def conflict(self, a: str, b: str) -> bool:
        """Whether two codes (normalised) are alternatives on this axis."""
        ka, kb = self.key(a), self.key(b)
        if ka is None or kb is None or ka != kb or a == b:
            return False
        if self.group == "category":
            return a[:3] != b[:3]
        return True

    def rank(self, code: str) -> int:
        """A code's place in a ``rank`` axis's hierarchy (0 first; others after the listed)."""
        if not self.group.startswith("rank"):
            return 0
        at, order = self.group[4:].split(":")
        char = code[int(at)] if len(code) > int(at) else ""
        return order.index(char) if char and char in order else len(order)


def _build(row: dict[str, str]) -> Axis:
    group = row["group"]
    ranked = re.fullmatch(r"rank(\d+):[0-9A-Z]+", group)
    if (
        group not in ("all", "category")
        and not ranked
        and not (group.startswith("prefix") and group.removeprefix("prefix").isdigit())
    ):
        raise ValueError(f"bad group {group!r} (all, category, prefixN or rankN:ORDER)")
    if not row["detail"]:
        raise ValueError("detail is empty")
    return Axis(
        row["id"], check_section(row["section"]), parse_patterns(row["codes"]), group, row["detail"]
    )


@cache
def axes() -> tuple[Axis, ...]:
    return load_table("exclusive_axes.tsv", _COLUMNS, _build)


def conflicts(codes: Sequence[str]) -> list[tuple[Axis, str, str]]:
    """Pairs of ``codes`` (any form) that are alternatives on one axis."""
    norm = [normalize_code(c) for c in codes]
    return [
        (axis, codes[i], codes[j])
        for axis in axes()
        for i in range(len(norm))
        for j in range(i + 1, len(norm))
        if axis.conflict(norm[i], norm[j])
    ]
