"""Principal diagnosis selection (inpatient) and the first-listed diagnosis (outpatient).

The coding stage already sequences the shown ICD-10-CM list ("code first" and etiology before
manifestation, I.A.13), most confident first. Over that list, in order:

1. a code the coder fixed (``principal.decided``) or the caller gave first (``principal.given``);
2. ``principal.unacceptable`` (II; I.A.13): codes the Medicare Code Editor bars as principal
   (a manifestation, an external cause, an unacceptable principal) are passed over;
3. ``sepsis_first`` (I.C.1.d.4): sepsis before its localised infection (``data/principal.tsv``);
4. ``symptom_not_principal`` (II.A): a sign or symptom gives way to a definitive diagnosis;
5. ``principal.first_listed`` (II): otherwise the first code left, the condition the note's
   evidence ranks as chiefly responsible for the admission.

Outpatient encounters have a first-listed diagnosis (IV.G), the first code as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from cac.codesets.records import normalize_code
from cac.coding.rules import CodePattern, any_match, check_section, load_table, parse_patterns
from cac.impact.records import Principal, Setting

_COLUMNS = ("id", "section", "codes", "detail")
_FILE = "principal.tsv"


@dataclass(frozen=True, slots=True)
class PrincipalRule:
    id: str
    section: str
    codes: tuple[CodePattern, ...]
    detail: str

    def concerns(self, code: str) -> bool:
        return any_match(self.codes, normalize_code(code))


def _build(row: dict[str, str]) -> PrincipalRule:
    if not row["detail"]:
        raise ValueError("detail is empty")
    return PrincipalRule(
        row["id"], check_section(row["section"]), parse_patterns(row["codes"]), row["detail"]
    )


@cache
def principal_rules() -> dict[str, PrincipalRule]:
    text = (resources.files("cac.impact") / "data" / _FILE).read_text(encoding="utf-8")
    rules = {r.id: r for r in load_table(_FILE, _COLUMNS, _build, text=text)}
    missing = {"sepsis_first", "symptom_not_principal"} - rules.keys()
    if missing:
        raise ValueError(f"{_FILE} lacks the rules {sorted(missing)}")
    return rules


def choose(
    diagnoses: tuple[str, ...],
    setting: Setting,
    barred: Callable[[str], list[str]],
    *,
    fixed: bool = False,
    fixed_reason: str | None = None,
) -> Principal | None:
    """The principal (or first-listed) diagnosis of ``diagnoses`` and why.

    Args:
        diagnoses: ICD-10-CM codes in sequence.
        setting: inpatient selects a principal; outpatient takes the first-listed code.
        barred: the code editor's edits that bar a code as principal (empty if none).
        fixed: the first code is the principal by decision.
        fixed_reason: who decided, for the reason (``chosen by coder ann``).
    """
    if not diagnoses:
        return None
    first = diagnoses[0]
    if fixed:
        return Principal(
            first,
            "principal.decided" if fixed_reason else "principal.given",
            "II",
            fixed_reason or "given first in the request, which makes it the principal",
        )
    if setting == "outpatient":
        return Principal(
            first, "principal.first_listed", "IV.G", "the first-listed diagnosis of the visit"
        )
    rules = principal_rules()
    passed = [(c, barred(c)) for c in diagnoses]
    usable = [c for c, edits in passed if not edits]
    skipped = [f"{c} ({', '.join(edits)})" for c, edits in passed if edits]
    note = f"; passed over as the code editor bars them: {', '.join(skipped)}" if skipped else ""
    if not usable:
        return Principal(
            first,
            "principal.unacceptable",
            "II",
            "no listed code is acceptable as principal diagnosis; the grouper will not group"
            + note,
        )
    sepsis = rules["sepsis_first"]
    for code in usable:
        if sepsis.concerns(code):
            return Principal(code, sepsis.id, sepsis.section, sepsis.detail + note)
    symptom = rules["symptom_not_principal"]
    definitive = [c for c in usable if not symptom.concerns(c)]
    if definitive and definitive[0] != usable[0]:
        return Principal(definitive[0], symptom.id, symptom.section, symptom.detail + note)
    return Principal(
        usable[0],
        "principal.first_listed",
        "II",
        "the first code in sequence, the condition the coding ranks as chiefly responsible for "
        "the admission" + note,
    )
