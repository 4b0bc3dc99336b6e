"""Integral signs and symptoms (``data/integral.tsv``, Guidelines I.B.4-I.B.6): a sign or
symptom routinely part of a shown definitive diagnosis is not shown; one not listed for that
diagnosis stays. Each row cites its section; a bad row fails with file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cac.coding.rules import CodePattern, any_match, check_section, load_table, parse_patterns

_COLUMNS = ("id", "section", "symptoms", "diagnoses", "detail")


@dataclass(frozen=True, slots=True)
class IntegralRule:
    id: str
    section: str
    symptoms: tuple[CodePattern, ...]
    diagnoses: tuple[CodePattern, ...]
    detail: str

    def integral(self, symptom: str, diagnosis: str) -> bool:
        """Whether ``symptom`` is routinely part of ``diagnosis`` (both normalised)."""
        return (
            symptom != diagnosis
            and any_match(self.symptoms, symptom)
            and any_match(self.diagnoses, diagnosis)
            and not any_match(self.symptoms, diagnosis)
        )


def _build(row: dict[str, str]) -> IntegralRule:
    if not row["detail"]:
        raise ValueError("detail is empty")
    return IntegralRule(
        row["id"],
        check_section(row["section"]),
        parse_patterns(row["symptoms"]),
        parse_patterns(row["diagnoses"]),
        row["detail"],
    )


@cache
def integral_rules() -> tuple[IntegralRule, ...]:
    return load_table("integral.tsv", _COLUMNS, _build)


def explained_by(symptom: str, shown: list[str]) -> tuple[IntegralRule, str] | None:
    """The first rule and shown diagnosis that make ``symptom`` integral, or None."""
    for rule in integral_rules():
        for diagnosis in shown:
            if rule.integral(symptom, diagnosis):
                return rule, diagnosis
    return None
