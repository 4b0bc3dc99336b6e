"""Documentation-improvement (CDI) prompts: rules as data in ``data/prompts.json``.

A rule names vague ICD-10-CM codes (heart failure, unspecified), the code-set axis the note did
not state, an open, non-leading question, and the codes an answer could allow. The rule says
nothing about money: the effect of each allowed code (CC -> MCC, DRG 292 -> 291, +HCC 224) is
measured by regrouping and rescoring the code list with it in place of the vague code. A prompt
never changes a code; only a coder's decision does.

The loader rejects an unknown key, a bad code pattern or section, or an allowed code that is
not one of the file's shapes, naming the rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cac.codesets.records import normalize_code
from cac.coding.rules import CodePattern, any_match, check_section, parse_patterns
from cac.errors import SourceError
from cac.impact.records import CcMcc, Prompt, PromptEffect

_FILE = "prompts.json"
_KEYS = {"id", "codes", "axis", "section", "question", "allows"}


@dataclass(frozen=True, slots=True)
class PromptRule:
    """One prompt rule. ``allows`` maps each vague code (normalised) to the codes an answer
    could allow; a rule with one list applies it to every vague code it names."""

    id: str
    codes: tuple[CodePattern, ...]
    axis: str
    section: str
    question: str
    allows: dict[str, tuple[str, ...]]
    allows_any: tuple[str, ...]

    def applies(self, code: str) -> bool:
        return any_match(self.codes, normalize_code(code))

    def allowed(self, code: str) -> tuple[str, ...]:
        return self.allows.get(normalize_code(code), self.allows_any)


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise ValueError(f"{where} must be a non-empty list of codes")
    for code in value:
        CodePattern.parse(code)  # the same shape check as every rule file
    return tuple(value)


def _build(entry: Any) -> PromptRule:
    if not isinstance(entry, dict):
        raise ValueError("each prompt is an object")
    unknown = entry.keys() - _KEYS
    missing = _KEYS - entry.keys()
    if unknown or missing:
        raise ValueError(f"unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    for key in ("id", "codes", "axis", "section", "question"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ValueError(f"{key} must be a non-empty string")
    if not entry["question"].rstrip().endswith("?"):
        raise ValueError("the question must be a question (end with '?')")
    raw = entry["allows"]
    allows: dict[str, tuple[str, ...]] = {}
    allows_any: tuple[str, ...] = ()
    if isinstance(raw, dict):
        allows = {normalize_code(k): _codes(v, f"allows[{k}]") for k, v in raw.items()}
    else:
        allows_any = _codes(raw, "allows")
    return PromptRule(
        id=entry["id"],
        codes=parse_patterns(entry["codes"]),
        axis=entry["axis"],
        section=check_section(entry["section"]),
        question=entry["question"].strip(),
        allows=allows,
        allows_any=allows_any,
    )


def load_rules(text: str) -> tuple[PromptRule, ...]:
    """Parse a prompts file.

    Raises:
        SourceError: naming the file and the rule (by index and id) that is wrong.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{_FILE}: not JSON ({exc})") from None
    entries = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SourceError(f"{_FILE}: expected an object with a 'prompts' list")
    rules: list[PromptRule] = []
    for index, entry in enumerate(entries):
        name = entry.get("id", "?") if isinstance(entry, dict) else "?"
        try:
            rule = _build(entry)
        except ValueError as exc:
            raise SourceError(f"{_FILE}, prompts[{index}] ({name}): {exc}") from None
        if any(r.id == rule.id for r in rules):
            raise SourceError(f"{_FILE}, prompts[{index}]: id {rule.id!r} is used twice")
        rules.append(rule)
    return tuple(rules)


@cache
def prompt_rules() -> tuple[PromptRule, ...]:
    return load_rules((resources.files("cac.impact") / "data" / _FILE).read_text("utf-8"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a code list comes to, for comparing a prompt's allowed codes with the vague one."""

    cc_mcc: CcMcc | None
    drg: str | None
    weight: float | None
    hccs: tuple[str, ...]


Measure = Callable[[tuple[str, ...], str], Outcome]


def prompts_for(
    diagnoses: tuple[str, ...], measure: Measure, present: frozenset[str] = frozenset()
) -> tuple[Prompt, ...]:
    """The prompts of a diagnosis list, each allowed code's effect measured.

    Args:
        diagnoses: ICD-10-CM codes in sequence, principal (or first-listed) first.
        measure: the outcome of a code list for one of its codes (that code's CC/MCC and HCCs,
            the list's DRG); the engine regroups and rescores.
        present: the HCCs the list has already (after hierarchies): an allowed code mapping to
            one of them adds nothing.
    """
    out: list[Prompt] = []
    for code in diagnoses:
        for rule in prompt_rules():
            if not rule.applies(code):
                continue
            base = measure(diagnoses, code)
            allows = []
            for allowed in rule.allowed(code):
                if allowed in diagnoses:
                    continue
                swapped = tuple(allowed if c == code else c for c in diagnoses)
                o = measure(swapped, allowed)
                allows.append(PromptEffect(allowed, o.cc_mcc, o.drg, o.weight, o.hccs))
            effect = _effect(base, allows, present)
            out.append(Prompt(rule.id, code, rule.axis, rule.question, tuple(allows), effect))
            break
    return tuple(out)


def _effect(base: Outcome, allows: list[PromptEffect], present: frozenset[str]) -> str:
    """``CC -> MCC (I50.21, I50.23); DRG 292 -> 291 (I50.21); +HCC 224 (I50.23)``."""
    parts: list[str] = []
    levels: dict[str, list[str]] = {}
    drgs: dict[str, list[str]] = {}
    hccs: dict[str, list[str]] = {}
    for a in allows:
        if a.cc_mcc != base.cc_mcc:
            levels.setdefault(a.cc_mcc or "no CC", []).append(a.code)
        if a.drg is not None and a.drg != base.drg:
            drgs.setdefault(a.drg, []).append(a.code)
        for hcc in a.hccs:
            if hcc not in base.hccs and hcc not in present:
                hccs.setdefault(hcc, []).append(a.code)
    for level, codes in levels.items():
        parts.append(f"{base.cc_mcc or 'no CC'} -> {level} ({', '.join(codes)})")
    for drg, codes in drgs.items():
        parts.append(f"DRG {base.drg} -> {drg} ({', '.join(codes)})")
    for hcc, codes in hccs.items():
        parts.append(f"+HCC {hcc} ({', '.join(codes)})")
    return "; ".join(parts) or "no DRG or HCC change: the code would be more specific only"
