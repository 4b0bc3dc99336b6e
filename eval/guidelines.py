"""Guideline conformance suite (``cac eval guidelines``).

Short notes written by us from the ICD-10-CM Official Guidelines (FY2022, public domain), each with
the codes a certified coder must and must not show for it (``eval/guidelines/cases.yaml``). The
coder sees only a case's note and setting; the expected codes are read by the scorer afterwards.

A *check* is one ``must_show`` or ``must_not_show`` entry; a case passes when all its checks pass.
The report gives pass rates per case and per check, overall and per chapter and section label.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; mlflow requires it
from rich.console import Console
from rich.progress import track

from cac.codesets.records import System, display_code, normalize_code
from cac.errors import CacError
from cac.kb.store import KnowledgeBase

DEFAULT_CASES = Path(__file__).parent / "guidelines" / "cases.yaml"
SETTINGS = ("inpatient", "outpatient")
REQUIRED = ("id", "section", "chapter", "note", "setting", "must_show", "must_not_show", "why")
OPTIONAL = ("behaviour",)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.]*$")

Setting = Literal["inpatient", "outpatient"]


class CasesError(CacError):
    """The cases file is malformed; the message names the file and, where it can, the case."""


class _Suggestion(Protocol):
    @property
    def system(self) -> System: ...
    @property
    def code(self) -> str: ...
    @property
    def shown(self) -> bool: ...


class _Result(Protocol):
    @property
    def suggestions(self) -> Sequence[_Suggestion]: ...


class CoderLike(Protocol):
    """What the suite needs of a coder: ``cac.pipeline.Coder`` or a test double."""

    def code(self, text: str, setting: Setting = ...) -> _Result: ...


@dataclass(frozen=True)
class CodeRef:
    """One expected code: exact (``E11.22``) or a prefix (``N18.-``: every code starting N18)."""

    system: System
    code: str  # normalised (no dot, upper case); for a prefix, the stem
    prefix: bool
    text: str  # as written in the cases file

    def matches(self, system: System, code: str) -> bool:
        norm = normalize_code(code)
        if system is not self.system:
            return False
        return norm.startswith(self.code) if self.prefix else norm == self.code


@dataclass(frozen=True)
class Case:
    id: str
    section: str
    chapter: str
    note: str
    setting: Setting
    must_show: tuple[CodeRef, ...]
    must_not_show: tuple[CodeRef, ...]
    why: str
    behaviour: bool = False

    @property
    def checks(self) -> int:
        return len(self.must_show) + len(self.must_not_show)


def parse_code(text: object, where: str) -> CodeRef:
    """``E11.22``, ``N18.-`` or ``icd10pcs:0FT44ZZ`` as a :class:`CodeRef`.

    Raises:
        CasesError: naming ``where`` (the case) if the entry is not a code.
    """
    if not isinstance(text, str) or not text.strip():
        raise CasesError(f"{where}: code entries must be non-empty strings, got {text!r}")
    raw = text.strip()
    system = System.ICD10CM
    body = raw
    if ":" in raw:
        name, body = raw.split(":", 1)
        try:
            system = System.parse(name)
        except CacError:
            raise CasesError(f"{where}: unknown code system in {raw!r}") from None
    prefix = body.endswith("-")
    stem = body[:-1].rstrip(".") if prefix else body
    if not _CODE.match(stem.upper()):
        raise CasesError(
            f"{where}: {raw!r} is not a code (write E11.22, N18.- or icd10pcs:0FT44ZZ)"
        )
    return CodeRef(system, normalize_code(stem), prefix, raw)


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise CasesError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()


def _codes(entry: dict[str, Any], key: str, where: str) -> tuple[CodeRef, ...]:
    value = entry[key]
    if value is None:
        value = []
    if not isinstance(value, list):
        raise CasesError(f"{where}: {key!r} must be a list of codes")
    refs = tuple(parse_code(v, f"{where} {key}") for v in value)
    seen: set[tuple[System, str, bool]] = set()
    for ref in refs:
        key_ = (ref.system, ref.code, ref.prefix)
        if key_ in seen:
            raise CasesError(f"{where}: {ref.text} is listed twice in {key!r}")
        seen.add(key_)
    return refs


def parse_case(entry: object, index: int) -> Case:
    """One case from its YAML mapping (structure only; see :func:`check_codes`).

    Raises:
        CasesError: naming the case id (or its position when it has none).
    """
    if not isinstance(entry, dict):
        raise CasesError(
            f"case #{index + 1}: each case must be a mapping, got {type(entry).__name__}"
        )
    raw_id = entry.get("id")
    where = f"case {raw_id!r}" if isinstance(raw_id, str) and raw_id else f"case #{index + 1}"
    unknown = sorted(str(k) for k in entry if k not in REQUIRED and k not in OPTIONAL)
    if unknown:
        raise CasesError(f"{where}: unknown key(s) {', '.join(unknown)}")
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise CasesError(f"{where}: missing field(s) {', '.join(missing)}")
    case_id = _text(entry, "id", where)
    if not _ID.match(case_id):
        raise CasesError(f"{where}: id must be a lower-case slug (letters, digits, hyphens)")
    setting = entry["setting"]
    if setting not in SETTINGS:
        raise CasesError(f"{where}: setting must be inpatient or outpatient, got {setting!r}")
    behaviour = entry.get("behaviour", False)
    if not isinstance(behaviour, bool):
        raise CasesError(f"{where}: behaviour must be true or false")
    must_show = _codes(entry, "must_show", where)
    must_not_show = _codes(entry, "must_not_show", where)
    if not must_show and not must_not_show:
        raise CasesError(f"{where}: a case needs at least one must_show or must_not_show code")
    for wanted in must_show:
        for banned in must_not_show:
            if wanted.prefix:
                clash = banned.system is wanted.system and (
                    banned.code.startswith(wanted.code) or wanted.code.startswith(banned.code)
                )
            else:
                clash = banned.matches(wanted.system, wanted.code)
            if clash:
                raise CasesError(
                    f"{where}: {wanted.text} in must_show contradicts "
                    f"{banned.text} in must_not_show"
                )
    return Case(
        id=case_id,
        section=_text(entry, "section", where),
        chapter=_text(entry, "chapter", where),
        note=_text(entry, "note", where),
        setting=setting,
        must_show=must_show,
        must_not_show=must_not_show,
        why=_text(entry, "why", where),
        behaviour=behaviour,
    )


def check_codes(cases: Iterable[Case], kb: KnowledgeBase) -> None:
    """Every code must be a billable, active code of the knowledge base; every prefix a node with
    billable codes below it.

    Raises:
        CasesError: naming the case id and the code.
    """
    for case in cases:
        for key, refs in (("must_show", case.must_show), ("must_not_show", case.must_not_show)):
            for ref in refs:
                record = kb.get(ref.system, ref.code)
                if record is None:
                    raise CasesError(
                        f"case {case.id!r} {key}: {ref.text} is not a code of {ref.system.value} "
                        "in the knowledge base"
                    )
                if ref.prefix:
                    if not record.billable and not kb.billable_descendants(
                        ref.system, record.code, limit=1
                    ):
                        raise CasesError(
                            f"case {case.id!r} {key}: {ref.text} has no billable codes below it"
                        )
                elif not (record.billable and record.active):
                    raise CasesError(
                        f"case {case.id!r} {key}: {ref.text} is not a billable code "
                        f"({record.title}); name a billable code or write a prefix like "
                        f"{display_code(ref.system, ref.code)}.-"
                    )


def load_cases(path: Path = DEFAULT_CASES, kb: KnowledgeBase | None = None) -> list[Case]:
    """Read and validate the cases file; with ``kb``, also check every code against it.

    Raises:
        CasesError: on an unreadable or malformed file, unknown keys, missing fields, a bad
            setting, duplicate ids or (with ``kb``) a code that is unknown or not billable.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CasesError(f"cannot read cases file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise CasesError(f"{path} is not valid YAML{at}") from None
    if not isinstance(raw, list) or not raw:
        raise CasesError(f"{path}: expected a non-empty list of cases")
    cases: list[Case] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        try:
            case = parse_case(entry, index)
        except CasesError as exc:
            raise CasesError(f"{path.name}: {exc}") from None
        if case.id in seen:
            raise CasesError(f"{path.name}: case {case.id!r}: duplicate id")
        seen.add(case.id)
        cases.append(case)
    if kb is not None:
        try:
            check_codes(cases, kb)
        except CasesError as exc:
            raise CasesError(f"{path.name}: {exc}") from None
    return cases


def show_code(system: System, code: str) -> str:
    if system is System.ICD10CM:
        return display_code(system, code)
    return f"{system.value}:{normalize_code(code)}"


def _rates(cases: int, passed_cases: int, checks: int, passed_checks: int) -> dict[str, Any]:
    return {
        "cases": cases,
        "passed_cases": passed_cases,
        "case_pass_rate": round(passed_cases / cases, 4) if cases else 0.0,
        "checks": checks,
        "passed_checks": passed_checks,
        "check_pass_rate": round(passed_checks / checks, 4) if checks else 0.0,
    }


def score_case(case: Case, shown: Sequence[tuple[System, str]]) -> list[dict[str, Any]]:
    """The failed checks of one case given the (system, code) pairs the coder showed."""
    listed = sorted({show_code(s, c) for s, c in shown})
    failures: list[dict[str, Any]] = []
    base = {"id": case.id, "section": case.section, "chapter": case.chapter}
    for ref in case.must_show:
        if not any(ref.matches(s, c) for s, c in shown):
            failures.append({**base, "kind": "missing", "code": ref.text, "shown": listed})
    for ref in case.must_not_show:
        hits = sorted({show_code(s, c) for s, c in shown if ref.matches(s, c)})
        if hits:
            failures.append(
                {**base, "kind": "unexpected", "code": ref.text, "matched": hits, "shown": listed}
            )
    return failures


def run_cases(coder: CoderLike, cases: Sequence[Case], progress: bool = True) -> dict[str, Any]:
    """Code every case's note (note and setting only) and score the shown lists."""
    start = time.perf_counter()
    shown_by_case: list[list[tuple[System, str]]] = []
    items: Iterable[Case] = cases
    if progress:
        items = track(cases, "guidelines", console=Console(stderr=True))
    for case in items:
        result = coder.code(case.note, setting=case.setting)
        shown_by_case.append([(s.system, s.code) for s in result.suggestions if s.shown])
    seconds = time.perf_counter() - start
    # expected codes are read only now, after every note has been coded
    failures: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    groups: dict[str, dict[str, dict[str, int]]] = {"by_chapter": {}, "by_section": {}}
    for case, shown in zip(cases, shown_by_case, strict=True):
        failed = score_case(case, shown)
        failures.extend(failed)
        passed_checks = case.checks - len(failed)
        results.append(
            {
                "id": case.id,
                "passed": not failed,
                "checks": case.checks,
                "passed_checks": passed_checks,
                "shown": sorted({show_code(s, c) for s, c in shown}),
            }
        )
        for group, label in (("by_chapter", case.chapter), ("by_section", case.section)):
            tally = groups[group].setdefault(
                label, {"cases": 0, "passed_cases": 0, "checks": 0, "passed_checks": 0}
            )
            tally["cases"] += 1
            tally["passed_cases"] += int(not failed)
            tally["checks"] += case.checks
            tally["passed_checks"] += passed_checks
    total_checks = sum(c.checks for c in cases)
    report: dict[str, Any] = _rates(
        len(cases),
        sum(r["passed"] for r in results),
        total_checks,
        total_checks - len(failures),
    )
    for group, tallies in groups.items():
        report[group] = {
            label: _rates(t["cases"], t["passed_cases"], t["checks"], t["passed_checks"])
            for label, t in sorted(tallies.items())
        }
    report["failures"] = failures
    report["results"] = results
    report["seconds_per_case"] = round(seconds / max(len(cases), 1), 4)
    return report


def evaluate(
    coder: CoderLike | None = None,
    path: Path = DEFAULT_CASES,
    kb: KnowledgeBase | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Load the cases (codes checked against ``kb``, else the coder's knowledge base), run them
    through ``coder`` (default ``Coder.load()``) and return the report."""
    if coder is None:
        from cac.pipeline import Coder

        real = Coder.load()
        coder, kb = real, kb or real.kb
    if kb is None:
        kb = getattr(coder, "kb", None)
    if kb is None:
        raise CasesError("no knowledge base to check the cases' codes against")
    cases = load_cases(path, kb)
    report = {"cases_file": str(path), **run_cases(coder, cases, progress)}
    model = getattr(coder, "model_info", None)
    if isinstance(model, dict):
        report["model"] = dict(model)
    return report
