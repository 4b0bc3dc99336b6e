"""Codes shown only beside a companion (``data/companions.tsv``): a BMI code needs its
associated weight diagnosis (I.C.21.c.3), an organism code the infection it causes (I.C.1.b).
A shown code with no shown companion is kept back. Each row cites its section; a bad row fails
with file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cac.coding.rules import CodePattern, any_match, check_section, load_table, parse_patterns

_COLUMNS = ("id", "section", "codes", "requires", "detail")


@dataclass(frozen=True, slots=True)
class CompanionRule:
    id: str
    section: str
    codes: tuple[CodePattern, ...]
    requires: tuple[CodePattern, ...]
    detail: str

    def alone(self, code: str, shown: list[str]) -> bool:
        """Whether ``code`` is one of this rule's and no other shown code is its companion."""
        return any_match(self.codes, code) and not any(
            c != code and any_match(self.requires, c) for c in shown
        )


def _build(row: dict[str, str]) -> CompanionRule:
    if not row["detail"]:
        raise ValueError("detail is empty")
    return CompanionRule(
        row["id"],
        check_section(row["section"]),
        parse_patterns(row["codes"]),
        parse_patterns(row["requires"]),
        row["detail"],
    )


@cache
def companion_rules() -> tuple[CompanionRule, ...]:
    return load_table("companions.tsv", _COLUMNS, _build)


def unaccompanied(code: str, shown: list[str]) -> CompanionRule | None:
    """The first rule under which ``code`` lacks its companion among ``shown``, or None."""
    for rule in companion_rules():
        if rule.alone(code, shown):
            return rule
    return None
