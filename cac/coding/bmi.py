"""The BMI value a note states, and the adult BMI code (Z68.1-Z68.45) whose range holds it.

A BMI code says a number: *Body mass index [BMI] 40.0-44.9, adult*. The ranker reads "body mass
index" and picks among the Z68 codes by what co-occurs; the value the note writes beside it
decides. A shown adult BMI code whose range does not hold the stated value is the wrong code
(I.B.14: the BMI may come from a clinician other than the provider, but it is coded as written).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cac.codesets.records import CodeRecord

# "BMI 41", "BMI: 41.2", "body mass index (BMI) of 40", "BMI was 27 kg/m2"
_STATED = re.compile(
    r"\b(?:BMI|body\s+mass\s+index)\b(?:\s*\(BMI\))?[\s:=]*(?:(?:of|was|is|at)\s+)?"
    r"(\d{1,2}(?:\.\d+)?)(?!\.?\d)(?!\s*(?:%|th\b|percentile))",
    re.IGNORECASE,
)
_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)")
_BELOW = re.compile(r"(\d+(?:\.\d+)?)\s+or\s+less")
_ABOVE = re.compile(r"(\d+(?:\.\d+)?)\s+or\s+greater")


@dataclass(frozen=True, slots=True)
class StatedBmi:
    value: float
    start: int  # the words that state it: "body mass index (BMI) of 40"
    end: int


def stated(text: str) -> list[StatedBmi]:
    """Every BMI value the note writes after "BMI" or "body mass index" (a percentile aside)."""
    return [StatedBmi(float(m.group(1)), m.start(), m.end()) for m in _STATED.finditer(text)]


def adult_range(record: CodeRecord) -> tuple[float, float] | None:
    """The range an adult BMI code's title states ("40.0-44.9", "19.9 or less", "70 or
    greater"); None for another code, a pediatric percentile among them."""
    title = record.title.lower()
    if not record.code.startswith("Z68") or "adult" not in title:
        return None
    if m := _RANGE.search(title):
        return float(m.group(1)), float(m.group(2)) + 0.0999
    if m := _BELOW.search(title):
        return 0.0, float(m.group(1)) + 0.0999
    if m := _ABOVE.search(title):
        return float(m.group(1)), float("inf")
    return None


def holding(value: float, records: Iterable[CodeRecord]) -> CodeRecord | None:
    """The adult BMI code among ``records`` whose range holds ``value``."""
    for record in records:
        span = adult_range(record)
        if span is not None and span[0] <= value < span[1]:
            return record
    return None
