"""Combination codes and the "with" presumption (``data/combinations.tsv``; Guidelines I.A.15,
I.B.9, I.C.4.a, I.C.9.a.1-3, I.C.10.a): when the shown codes (and the note's words) fill every
slot of a row, the row's code is shown and the codes it displaces are kept back; the others stay
as the "use additional code" notes ask (N18.x with E11.22). Each row cites its section; a bad
row fails with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from cac.codesets.records import normalize_code
from cac.coding.rules import CodePattern, any_match, check_section, load_table, parse_patterns
from cac.coding.statements import content_stems

_COLUMNS = ("id", "section", "conditions", "code", "displaces", "detail")
_TEMPLATE = re.compile(r"^(\{1\}|[A-Z][0-9][0-9A-Z])(\.[0-9A-Z]{1,4})?$")


@dataclass(frozen=True, slots=True)
class Slot:
    """One condition of a row: a shown code matching ``codes``; the note stating ``words``;
    or (``absent``) no shown code matching ``codes`` / no sentence stating ``words``."""

    codes: tuple[CodePattern, ...] = ()
    words: frozenset[str] = frozenset()
    absent: bool = False


@dataclass(frozen=True, slots=True)
class Combination:
    id: str
    section: str
    slots: tuple[Slot, ...]
    code: str  # a template: "{1}" is the category of the code filling slot 1
    displaces: tuple[CodePattern, ...]
    detail: str

    def makes(self, code: str) -> bool:
        """Whether this row's combination code can be ``code`` (normalised)."""
        if "{1}" not in self.code:
            return normalize_code(self.code) == code
        return any_match(self.slots[0].codes, code) and self.target(code) == code

    def target(self, first: str) -> str:
        """The combination code (normalised) when ``first`` fills slot 1."""
        return normalize_code(self.code.replace("{1}", first[:3]))


def _slot(text: str) -> Slot:
    text = text.strip()
    if text.startswith("~"):
        absent = text.startswith("~!")
        words = content_stems(text[2:] if absent else text[1:])
        if not words:
            raise ValueError(f"slot {text!r} names no words")
        return Slot(words=words, absent=absent)
    if text.startswith("!"):
        return Slot(codes=parse_patterns(text[1:]), absent=True)
    return Slot(codes=parse_patterns(text))


def _build(row: dict[str, str]) -> Combination:
    slots = tuple(_slot(s) for s in row["conditions"].split("|"))
    if not slots[0].codes or slots[0].absent:
        raise ValueError("the first condition must be codes that are shown")
    if not _TEMPLATE.match(row["code"].upper()):
        raise ValueError(f"bad code {row['code']!r}")
    if not row["detail"]:
        raise ValueError("detail is empty")
    return Combination(
        row["id"],
        check_section(row["section"]),
        slots,
        row["code"].upper(),
        parse_patterns(row["displaces"]),
        row["detail"],
    )


@cache
def combinations() -> tuple[Combination, ...]:
    return load_table("combinations.tsv", _COLUMNS, _build)


def fill(
    rule: Combination, shown: list[str], states: Callable[[frozenset[str]], bool]
) -> tuple[str, ...] | None:
    """The shown codes (normalised, best first) that fill the row's code slots, or None when a
    slot is unfilled. Word slots are checked with ``states``; an absent slot fills with none."""
    found: list[str] = []
    for slot in rule.slots:
        if slot.words:
            if states(slot.words) == slot.absent:
                return None
            continue
        matching = [c for c in shown if any_match(slot.codes, c)]
        if slot.absent:
            if matching:
                return None
            continue
        if not matching:
            return None
        found.append(matching[0])
    return tuple(found)
