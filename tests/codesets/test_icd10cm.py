"""ICD-10-CM loader: the mini tabular fixture for behaviour, the bundled FY2026 XML for counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac.codesets import icd10cm
from cac.codesets.records import System
from cac.errors import SourceError

MINI = Path(__file__).parent.parent / "fixtures" / "mini_icd10cm.xml"


@pytest.fixture(scope="module")
def mini() -> dict[str, icd10cm.CodeRecord]:
    return {r.code: r for r in icd10cm.load(MINI)}


def test_hierarchy_and_billable_flags(mini: dict[str, icd10cm.CodeRecord]) -> None:
    assert mini["CH04"].kind == "chapter"
    assert mini["E08-E13"].parent == "CH04"
    assert mini["E11"].parent == "E08-E13" and not mini["E11"].billable
    assert mini["E119"].billable and mini["E119"].parent == "E11"
    assert mini["E119"].title == "Type 2 diabetes mellitus without complications"
    assert not mini["E116"].billable and mini["E1165"].billable


def test_notes_and_inclusion_terms(mini: dict[str, icd10cm.CodeRecord]) -> None:
    e11 = mini["E11"]
    assert e11.synonyms == ("diabetes (mellitus) due to insulin secretory defect",)
    assert e11.excludes1 == ("type 1 diabetes mellitus (E10.-)",)
    assert e11.use_additional == ("code to identify control using insulin (Z79.4)",)


def test_seventh_character_expansion(mini: dict[str, icd10cm.CodeRecord]) -> None:
    assert not mini["S72001"].billable
    expanded = mini["S72001A"]
    assert expanded.billable and expanded.parent == "S72001"
    assert expanded.title.endswith("right femur, initial encounter for closed fracture")
    assert {"S72001A", "S72001D", "S72001S"} <= set(mini)
    # Placeholder X pads short codes to six characters before the 7th character.
    assert mini["W19XXXA"].billable and not mini["W19"].billable


def test_code_list_drops_expansions_it_does_not_list(tmp_path: Path) -> None:
    listing = tmp_path / "codes.txt"
    listing.write_text("S72.001A\nW19.XXXA\n", encoding="utf-8")
    codes = {r.code for r in icd10cm.load(MINI, code_list=listing)}
    assert "S72001A" in codes and "S72001D" not in codes and "W19XXXS" not in codes
    assert "E119" in codes  # only 7th-character expansions are filtered


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with pytest.raises(SourceError, match="nope.xml"):
        list(icd10cm.load(missing))


def test_corrupt_file_names_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.xml"
    corrupt.write_text("<ICD10CM.tabular><chapter>", encoding="utf-8")
    with pytest.raises(SourceError, match="broken.xml"):
        list(icd10cm.load(corrupt))


def test_bundled_fy2026_counts() -> None:
    records = list(icd10cm.load())
    billable = [r for r in records if r.billable]
    assert 74_500 <= len(billable) <= 74_900  # CMS: 74,719 billable codes in FY2026
    assert all(r.system is System.ICD10CM for r in records[:10])
    by_code = {r.code: r for r in records}
    assert by_code["S72001A"].billable and not by_code["S72001"].billable
