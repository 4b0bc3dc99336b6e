"""The evidence scorer: its cases loader, what counts as found or pointing elsewhere, and the
MACCROBAT tally (a fake coder with fixed evidence; the real pipeline runs in ``make eval``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cac.codesets.records import System
from eval.brat import BratDoc
from eval.evidence import (
    DEFAULT_CASES,
    CasesError,
    Shown,
    category,
    load_cases,
    run_cases,
    run_maccrobat,
    score_case,
    score_doc,
)

NOTE = "Pt with CHF and HTN, s/p CABG."
CASE = f"""\
- id: chf-htn
  setting: outpatient
  note: "{NOTE}"
  evidence:
    - code: I11.0
      words: ["CHF", "HTN"]
    - code: I50.9
      words: ["CHF"]
    - code: Z95.1
      words: ["s/p CABG"]
  why: "Hypertension with heart failure."
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _at(word: str) -> tuple[int, int]:
    start = NOTE.index(word)
    return start, start + len(word)


def test_the_shipped_cases_load_forty_notes() -> None:
    cases = load_cases(DEFAULT_CASES)
    assert len(cases) == 40
    assert all(e.words for c in cases for e in c.expected)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('words: ["s/p CABG"]', 'words: ["CABG 2019"]', "exactly once"),
        ("code: Z95.1", "code: Z95.-", "not a prefix"),
        ("setting: outpatient", "setting: clinic", "setting"),
        ('  why: "Hypertension with heart failure."\n', "", "missing"),
    ],
)
def test_a_malformed_case_names_its_fault(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(CasesError, match=message):
        load_cases(_write(tmp_path, CASE.replace(old, new)))


def test_words_are_found_only_on_the_code_that_owns_them(tmp_path: Path) -> None:
    (case,) = load_cases(_write(tmp_path, CASE))
    shown = [
        Shown(System.ICD10CM, "I11.0", (_at("CHF"), _at("HTN"))),
        Shown(System.ICD10CM, "I50.9", (_at("HTN"),)),  # heart failure pointing at "HTN"
    ]
    result = score_case(case, shown)
    found = {(w["code"], w["word"]): w["found"] for w in result["words"]}
    assert found == {
        ("I11.0", "CHF"): True,
        ("I11.0", "HTN"): True,
        ("I50.9", "CHF"): False,
        ("Z95.1", "s/p CABG"): False,  # not shown
    }
    assert [x["code"] for x in result["elsewhere"]] == ["I50.9"]
    assert result["elsewhere"][0]["states"] == ["I11.0"]


def test_a_code_of_the_same_category_or_another_system_does_not_point_elsewhere(
    tmp_path: Path,
) -> None:
    (case,) = load_cases(_write(tmp_path, CASE))
    shown = [
        Shown(System.ICD10CM, "I50.22", (_at("CHF"),)),  # same category as I50.9
        Shown(System.CPT, "33533", (_at("s/p CABG"),)),  # the cases hold no CPT codes
        Shown(System.ICD10CM, "R06.02", ()),  # inferred: no span
    ]
    assert score_case(case, shown)["elsewhere"] == []


def test_categories_group_one_condition_or_one_procedure_site() -> None:
    assert category(System.ICD10CM, "E11.65") == category(System.ICD10CM, "E11.9")
    assert category(System.ICD10PCS, "0FT44ZZ") == category(System.ICD10PCS, "0FB44ZZ")
    assert category(System.ICD10PCS, "0FT44ZZ") != category(System.ICD10PCS, "0DTJ4ZZ")


@dataclass
class _E:
    start: int
    end: int


@dataclass
class _S:
    system: System
    code: str
    evidence: tuple[_E, ...]
    shown: bool = True


@dataclass
class _R:
    suggestions: list[_S] = field(default_factory=list)


class _Coder:
    def __init__(self, by_text: dict[str, list[_S]]) -> None:
        self.by_text = by_text
        self.seen: list[str] = []

    def code(self, text: str, setting: str = "inpatient") -> _R:
        self.seen.append(text)
        return _R(self.by_text.get(text, []))


def test_run_cases_reports_shares_over_all_words_and_over_shown_codes(tmp_path: Path) -> None:
    cases = load_cases(_write(tmp_path, CASE))
    ev = (_E(*_at("CHF")), _E(*_at("HTN")))
    coder = _Coder(
        {
            NOTE: [
                _S(System.ICD10CM, "I11.0", ev),
                _S(System.ICD10CM, "I50.9", (_E(*_at("CHF")),)),
                _S(System.ICD10CM, "Z95.1", (), shown=False),
            ]
        }
    )
    report = run_cases(coder, cases, progress=False)  # type: ignore[arg-type]
    assert coder.seen == [NOTE]
    assert (report["expected_words"], report["found"]) == (4, 3)
    assert report["found_share_of_shown_codes"] == 1.0
    assert report["shown_codes"] == 2 and report["pointing_elsewhere"] == 0


def test_maccrobat_spans_count_only_on_an_entity_of_the_right_kind() -> None:
    text = "Chest X-ray showed pneumonia; fever."
    doc = BratDoc("d", text, [(0, 11, "PROCEDURE"), (19, 28, "DIAGNOSIS")])
    shown = [
        Shown(System.ICD10CM, "J18.9", ((19, 28),)),  # on target
        Shown(System.ICD10CM, "R50.9", ((0, 5),)),  # a diagnosis pointing at a procedure
        Shown(System.ICD10PCS, "BW03ZZZ", ((0, 11), (30, 35))),  # one of two spans on target
        Shown(System.ICD10CM, "R69", ()),  # inferred
    ]
    tally = score_doc(doc, shown)
    assert tally["icd10cm"] == [2, 1, 3, 1, 1, 1, 1, 1, 1]
    assert tally["icd10pcs"] == [2, 1, 1, 1, 0, 1, 1, 1, 1]
    coder = _Coder(
        {text: [_S(s.system, s.code, tuple(_E(a, b) for a, b in s.spans)) for s in shown]}
    )
    report = run_maccrobat(coder, [doc], progress=False)  # type: ignore[arg-type]
    assert report["all"]["span_share"] == 0.5
    assert report["all"]["code_share"] == 0.5
    assert report["all"]["inferred_codes"] == 1
    assert report["most_spans_per_code"] == 2


def test_maccrobat_context_entities_count_by_the_codes_kind_and_in_the_wider_share() -> None:
    text = "20-year history of hypertension. Mother had diabetes. Biopsy. BMI of 41."
    history, family = (0, 31, "History"), (33, 52, "Family_history")
    lab = (text.index("41"), text.index("41") + 2, "Lab_value")
    doc = BratDoc("d", text, [(54, 60, "PROCEDURE")], context=(history, family, lab))
    shown = [
        Shown(System.ICD10CM, "I10", ((19, 31),)),  # a History entity: the wider share only
        Shown(System.ICD10CM, "Z83.3", ((44, 52),)),  # a relative's condition: by kind too
        Shown(System.ICD10CM, "Z68.41", ((lab[0] - 7, lab[1]),)),  # "BMI of 41": a measurement
        Shown(System.ICD10PCS, "0DBJ8ZX", ((0, 7),)),  # a procedure on a History entity
    ]
    tally = score_doc(doc, shown)
    assert tally["icd10cm"] == [3, 0, 3, 0, 0, 2, 2, 2, 2]
    assert tally["icd10pcs"] == [1, 0, 1, 0, 0, 0, 0, 0, 0]
