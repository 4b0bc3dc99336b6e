"""The guideline conformance suite: the cases loader, the report arithmetic and the CLI's errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cac.cli.main import app
from cac.codesets.records import System
from cac.kb.store import KnowledgeBase
from eval.guidelines import (
    DEFAULT_CASES,
    CasesError,
    evaluate,
    load_cases,
    parse_code,
    run_cases,
)
from eval.guidelines_report import markdown

GOOD = """\
- id: dm-plain
  section: I.C.4.a
  chapter: "ch04 diabetes"
  note: "Type 2 diabetes mellitus without complications."
  setting: outpatient
  must_show: [E11.9]
  must_not_show: [E11.65]
  why: "Plain type 2 diabetes."
"""


def _case(**fields: Any) -> str:
    """One YAML case: the GOOD case with fields replaced (None drops a field)."""
    base: dict[str, Any] = {
        "id": "dm-plain",
        "section": "I.C.4.a",
        "chapter": "ch04 diabetes",
        "note": "Type 2 diabetes.",
        "setting": "outpatient",
        "must_show": "[E11.9]",
        "must_not_show": "[E11.65]",
        "why": "Plain type 2 diabetes.",
    }
    base.update(fields)
    lines = [f"{k}: {v}" for k, v in base.items() if v is not None]
    return "- " + "\n  ".join(lines) + "\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ loader


def test_good_file_loads_and_checks_codes(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    cases = load_cases(_write(tmp_path, GOOD), mini_kb)
    assert len(cases) == 1
    case = cases[0]
    assert (case.id, case.setting, case.checks, case.behaviour) == (
        "dm-plain",
        "outpatient",
        2,
        False,
    )
    assert case.must_show[0].code == "E119" and not case.must_show[0].prefix


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_case(bogus="1"), "case 'dm-plain': unknown key(s) bogus"),
        (_case(why=None), "case 'dm-plain': missing field(s) why"),
        (_case(id=None), "case #1: missing field(s) id"),
        (_case(setting="emergency"), "case 'dm-plain': setting must be inpatient or outpatient"),
        (_case(id='"Bad Id"'), "lower-case slug"),
        (_case(note='""'), "'note' must be a non-empty string"),
        (_case(must_show="E11.9"), "'must_show' must be a list"),
        (_case(must_show="[E11.9, E11.9]"), "E11.9 is listed twice"),
        (_case(must_show="[]", must_not_show="[]"), "at least one must_show or must_not_show"),
        (_case(must_show="[E11.9]", must_not_show="[E11.-]"), "contradicts E11.- in must_not_show"),
        (_case(must_show='["E11 9!"]'), "is not a code"),
        (_case(must_show='["snomed:123"]'), "unknown code system"),
        (_case(behaviour="yes please"), "behaviour must be true or false"),
        (_case() + _case(), "case 'dm-plain': duplicate id"),
        ("- id: [unclosed\n", "is not valid YAML"),
        ("just: a mapping\n", "expected a non-empty list of cases"),
        ("- plain string\n", "case #1: each case must be a mapping"),
    ],
)
def test_malformed_cases_fail_naming_the_case(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CasesError) as info:
        load_cases(_write(tmp_path, text))
    assert message in str(info.value)


def test_second_case_is_named_by_its_id(tmp_path: Path) -> None:
    text = _case() + _case(id="broken", setting="ed")
    with pytest.raises(CasesError, match="case 'broken': setting"):
        load_cases(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (
            "[Z99.99]",
            "case 'dm-plain' must_show: Z99.99 is not a code of icd10cm in the knowledge base",
        ),
        ("[E11.6]", "case 'dm-plain' must_show: E11.6 is not a billable code"),
        ("[hcpcs:E0111]", "hcpcs:E0111 is not a billable code"),
        ("[Q99.-]", "Q99.- is not a code of icd10cm"),
    ],
)
def test_codes_must_be_billable_codes_of_the_kb(
    tmp_path: Path, mini_kb: KnowledgeBase, codes: str, message: str
) -> None:
    path = _write(tmp_path, _case(must_show=codes, must_not_show="[]"))
    load_cases(path)  # structurally fine: only the knowledge base rejects it
    with pytest.raises(CasesError) as info:
        load_cases(path, mini_kb)
    assert message in str(info.value)


def test_prefixes_and_other_systems_are_accepted(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    text = _case(must_show="[hcpcs:E0110, S72.001A]", must_not_show="[E11.-, W19.-]")
    (case,) = load_cases(_write(tmp_path, text), mini_kb)
    assert [r.system for r in case.must_show] == [System.HCPCS, System.ICD10CM]
    assert [(r.code, r.prefix) for r in case.must_not_show] == [("E11", True), ("W19", True)]


def test_parse_code_forms() -> None:
    assert parse_code("N18.-", "x").matches(System.ICD10CM, "N18.30")
    assert not parse_code("N18.-", "x").matches(System.ICD10CM, "N17.9")
    assert parse_code("e11.22", "x").matches(System.ICD10CM, "E1122")
    pcs = parse_code("icd10pcs:0FT44ZZ", "x")
    assert pcs.matches(System.ICD10PCS, "0FT44ZZ")
    assert not pcs.matches(System.ICD10CM, "0FT44ZZ")


def test_shipped_cases_are_well_formed() -> None:
    cases = load_cases(DEFAULT_CASES)
    assert len(cases) >= 90
    assert 10 <= sum(c.behaviour for c in cases) <= 40  # a subset: CI codes each one
    assert {c.setting for c in cases} == {"inpatient", "outpatient"}


@pytest.mark.kb
def test_shipped_cases_name_billable_codes(real_kb: KnowledgeBase) -> None:
    load_cases(DEFAULT_CASES, real_kb)


# ------------------------------------------------------------------------------------ report


@dataclass(frozen=True)
class _Suggestion:
    system: System
    code: str
    shown: bool


@dataclass(frozen=True)
class _Result:
    suggestions: list[_Suggestion]


class ScriptedCoder:
    """Shows the codes scripted for each note; records what it was given."""

    def __init__(self, script: dict[str, list[tuple[System, str, bool]]]) -> None:
        self.script = script
        self.calls: list[tuple[str, str]] = []

    def code(self, text: str, setting: str = "inpatient") -> _Result:
        self.calls.append((text, setting))
        return _Result([_Suggestion(s, c, shown) for s, c, shown in self.script.get(text, [])])


CM = System.ICD10CM
REPORT_CASES = """\
- id: all-pass
  section: I.C.4.a
  chapter: "ch04"
  note: "note one"
  setting: outpatient
  must_show: [E11.9]
  must_not_show: [E11.65]
  why: "x"
- id: one-missing-one-unexpected
  section: I.C.4.a
  chapter: "ch04"
  note: "note two"
  setting: inpatient
  must_show: [E11.65, S72.001A]
  must_not_show: [E11.9]
  why: "x"
- id: prefix-and-hidden
  section: I.C.19
  chapter: "ch19"
  note: "note three"
  setting: inpatient
  must_show: [hcpcs:E0110]
  must_not_show: [E11.-, W19.-]
  why: "x"
"""


def _report(tmp_path: Path, mini_kb: KnowledgeBase) -> tuple[dict[str, Any], ScriptedCoder]:
    coder = ScriptedCoder(
        {
            "note one": [(CM, "E11.9", True), (CM, "E11.65", False)],  # E11.65 hidden: fine
            "note two": [(CM, "E11.65", True), (CM, "E11.9", True)],
            "note three": [
                (System.HCPCS, "E0110", True),
                (CM, "W19.XXXA", True),
                (CM, "E11.9", False),  # not shown, so the E11.- prefix passes
            ],
        }
    )
    path = _write(tmp_path, REPORT_CASES)
    return evaluate(coder, path, kb=mini_kb, progress=False), coder


def test_report_counts_cases_and_checks(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    report, _ = _report(tmp_path, mini_kb)
    assert (report["cases"], report["passed_cases"]) == (3, 1)
    assert (report["checks"], report["passed_checks"]) == (8, 5)
    assert report["case_pass_rate"] == round(1 / 3, 4)
    assert report["check_pass_rate"] == round(5 / 8, 4)
    assert report["by_chapter"]["ch04"] == {
        "cases": 2,
        "passed_cases": 1,
        "case_pass_rate": 0.5,
        "checks": 5,
        "passed_checks": 3,
        "check_pass_rate": 0.6,
    }
    assert report["by_chapter"]["ch19"]["passed_checks"] == 2
    assert report["by_section"]["I.C.4.a"]["checks"] == 5
    assert [r["passed"] for r in report["results"]] == [True, False, False]


def test_report_lists_each_failed_check(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    report, _ = _report(tmp_path, mini_kb)
    simple = [(f["id"], f["kind"], f["code"], f.get("matched")) for f in report["failures"]]
    assert simple == [
        ("one-missing-one-unexpected", "missing", "S72.001A", None),
        ("one-missing-one-unexpected", "unexpected", "E11.9", ["E11.9"]),
        ("prefix-and-hidden", "unexpected", "W19.-", ["W19.XXXA"]),
    ]
    first = report["failures"][0]
    assert first["section"] == "I.C.4.a" and first["chapter"] == "ch04"
    assert first["shown"] == ["E11.65", "E11.9"]
    assert report["failures"][2]["shown"] == ["W19.XXXA", "hcpcs:E0110"]


def test_coder_sees_only_note_and_setting(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    _, coder = _report(tmp_path, mini_kb)
    assert coder.calls == [
        ("note one", "outpatient"),
        ("note two", "inpatient"),
        ("note three", "inpatient"),
    ]


def test_bad_code_fails_before_any_note_is_coded(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    coder = ScriptedCoder({})
    path = _write(tmp_path, _case(id="bad-code", must_show="[Z99.99]"))
    with pytest.raises(CasesError, match="case 'bad-code'"):
        evaluate(coder, path, kb=mini_kb, progress=False)
    assert coder.calls == []


def test_run_cases_with_no_failures(mini_kb: KnowledgeBase, tmp_path: Path) -> None:
    cases = load_cases(_write(tmp_path, GOOD), mini_kb)
    coder = ScriptedCoder({cases[0].note: [(CM, "E11.9", True)]})
    report = run_cases(coder, cases, progress=False)
    assert report["failures"] == [] and report["case_pass_rate"] == 1.0
    assert report["check_pass_rate"] == 1.0


def test_markdown_report(tmp_path: Path, mini_kb: KnowledgeBase) -> None:
    report, _ = _report(tmp_path, mini_kb)
    text = markdown(report)
    assert "cases passed: **1/3**" in text and "checks passed: **5/8**" in text
    assert "| ch04 | 1/2 | 3/5 | 50.0% | 60.0% |" in text
    assert "| prefix-and-hidden | I.C.19 | unexpected | W19.- (W19.XXXA) |" in text


# ------------------------------------------------------------------------------------ CLI


def test_cli_malformed_cases_is_one_error_line(tmp_path: Path) -> None:
    path = _write(tmp_path, _case(id="no-setting", setting=None))
    result = CliRunner().invoke(app, ["eval", "guidelines", "--cases", str(path)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "case 'no-setting': missing field(s) setting" in errors[0]


def test_cli_missing_cases_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "guidelines", "--cases", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "error: cannot read cases file" in result.output
