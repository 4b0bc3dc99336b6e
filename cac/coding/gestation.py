"""The weeks of gestation a pregnancy note states, and the Z3A code that says them.

Category Z3A (*Weeks of gestation*) may be assigned beside a pregnancy code to give the weeks
(I.C.21.c.11, with I.C.15.a); the provider's written weeks decide it. A note with a chapter 15
code shown that writes one number of weeks ("G1P0 at 32 weeks", "32 weeks gestation",
"GA 32w") gets the Z3A code of that week; several different weeks leave it alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "at 32 weeks", "32 weeks gestation", "32 weeks pregnant", "32w3d", "GA 32 weeks", "32 wk"
_STATED = re.compile(
    r"\b(?:(?:at|GA|gestational age(?: of)?)\s+)?(\d{1,2})(?:\s*(?:weeks?|wks?)|w(?=\d|\b))"
    r"(?:\s*(?:\d\s*d(?:ays?)?|and \d days?))?"
    r"(?:'|’)?(?:\s+(?:of\s+)?(?:gestation|pregnant|pregnancy|GA|EGA)\b)?",
    re.IGNORECASE,
)
# the words that make a number of weeks a gestational age, not a duration ("for 2 weeks")
_CONTEXT = re.compile(
    r"\b(?:at|GA|gestational|gestation|pregnant|pregnancy|EGA|G\d+P\d+)\b", re.IGNORECASE
)
_DURATION = re.compile(r"\b(?:for|in|after|over|past|last|since|ago|every|x)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class StatedWeeks:
    weeks: int
    start: int
    end: int


def stated(text: str) -> list[StatedWeeks]:
    """Every gestational age in weeks the note writes (a duration such as "for 2 weeks"
    aside)."""
    out = []
    for m in _STATED.finditer(text):
        if not _CONTEXT.search(m.group(0)) and not _CONTEXT.search(
            text[max(0, m.start() - 12) : m.start()]
        ):
            continue
        if _DURATION.search(text[max(0, m.start() - 8) : m.start()]):
            continue
        out.append(StatedWeeks(int(m.group(1)), m.start(), m.end()))
    return out


def z3a_code(weeks: int) -> str | None:
    """The Z3A code (normalised) for ``weeks``: Z3A.01 under 8 weeks, Z3A.08-Z3A.42 by week,
    Z3A.49 beyond 42."""
    if weeks <= 0:
        return None
    if weeks < 8:
        return "Z3A01"
    if weeks <= 42:
        return f"Z3A{weeks:02d}"
    return "Z3A49"
