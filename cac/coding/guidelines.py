"""ICD-10-CM guideline rules that turn an asserted mention into the right code (or none).

* Negated and hypothetical mentions are never coded.
* A condition of a family member is coded as the matching Z80-Z84 family-history code.
* A resolved past condition is coded as a Z85-Z87 personal-history code (rules in
  ``data/personal_history.tsv``); a chronic condition "with a history of" keeps its own code.
* A procedure the note places in the past is not coded as performed; the status it left is
  (Z95.1 after "s/p CABG", Z90.49 after a cholecystectomy; ``data/procedure_status.tsv``,
  Guidelines I.C.21.c.3).
* An uncertain diagnosis ("probable", "suspected", "rule out") is coded as if established in the
  inpatient setting and not coded in the outpatient setting (Guidelines II.H, III.C, IV.H).

The rules are data files validated on load: a bad row fails with its file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from cac.errors import SourceError

_CATEGORY = re.compile(r"^[A-Z][0-9][0-9A-Z]$")
_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


@dataclass(frozen=True, slots=True)
class RangeRule:
    """Diseases whose 3-character category lies in ``[first, last]`` map to ``code``."""

    first: str
    last: str
    code: str
    what: str


def _load(name: str) -> tuple[RangeRule, ...]:
    text = (resources.files("cac.coding") / "data" / name).read_text(encoding="utf-8")
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise SourceError(f"{name}, line {number}: expected 4 tab-separated fields")
        first, last, code, what = (f.strip() for f in fields)
        if not (_CATEGORY.match(first) and _CATEGORY.match(last) and _CODE.match(code)):
            raise SourceError(f"{name}, line {number}: bad category range or code")
        if first > last:
            raise SourceError(f"{name}, line {number}: range {first}-{last} is reversed")
        rules.append(RangeRule(first, last, code.replace(".", ""), what))
    return tuple(rules)


@cache
def family_rules() -> tuple[RangeRule, ...]:
    return _load("family_history.tsv")


@cache
def history_rules() -> tuple[RangeRule, ...]:
    return _load("personal_history.tsv")


def _first_match(rules: tuple[RangeRule, ...], code: str) -> str | None:
    category = code.replace(".", "").upper()[:3]
    for rule in rules:
        if rule.first <= category <= rule.last:
            return rule.code
    return None


def family_history_code(code: str) -> str | None:
    """The Z80-Z84 code for a relative's disease coded ``code``, or None (not codeable)."""
    if code.upper().startswith(("Z", "R")):
        return None
    return _first_match(family_rules(), code)


def personal_history_code(code: str) -> str | None:
    """The history code for a resolved past ``code``, or None if it stays an active condition."""
    return _first_match(history_rules(), code)


@dataclass(frozen=True, slots=True)
class StatusRule:
    """Procedure codes of ``system`` in ``[first, last]`` (by prefix) leave status ``code``."""

    system: str
    first: str
    last: str
    code: str
    what: str


_SYSTEMS = ("icd10pcs", "cpt", "hcpcs")


@cache
def status_rules() -> tuple[StatusRule, ...]:
    name = "procedure_status.tsv"
    text = (resources.files("cac.coding") / "data" / name).read_text(encoding="utf-8")
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 5:
            raise SourceError(f"{name}, line {number}: expected 5 tab-separated fields")
        system, first, last, code, what = fields
        if system not in _SYSTEMS or not _CODE.match(code) or not first or first > last:
            raise SourceError(f"{name}, line {number}: bad system, code range or code")
        rules.append(StatusRule(system, first.upper(), last.upper(), code.replace(".", ""), what))
    return tuple(rules)


def procedure_status_code(system: str, code: str) -> str | None:
    """The status code a past procedure coded ``code`` in ``system`` leaves, or None."""
    code = code.upper()
    for rule in status_rules():
        if (
            rule.system == system
            and rule.first <= code[: len(rule.first)]
            and (code[: len(rule.last)] <= rule.last)
        ):
            return rule.code
    return None
