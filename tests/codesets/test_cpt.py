"""Tests of the CPT loader: the built-in demo set and user-supplied licensed files."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path

import pytest

from cac.codesets import cpt
from cac.codesets.records import CodeRecord, System
from cac.errors import SourceError


def _codes(records: list[CodeRecord]) -> dict[str, CodeRecord]:
    return {r.code: r for r in records if r.kind == "code"}


@pytest.fixture(scope="module")
def demo() -> list[CodeRecord]:
    return list(cpt.load())


def _write(tmp_path: Path, text: str, name: str = "cpt.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- demo set ---------------------------------------------------------------------------------


def test_demo_set_size_and_flags(demo: list[CodeRecord]) -> None:
    codes = _codes(demo)
    assert len(codes) >= 100
    assert all(r.demo for r in demo)
    assert all(r.system is System.CPT for r in demo)
    assert {"99213", "47562", "71046"} <= codes.keys()
    for record in codes.values():
        assert record.billable and record.active


def test_demo_codes_are_unique_in_file_and_records(demo: list[CodeRecord]) -> None:
    with cpt.DEMO_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    counts = Counter(row["code"] for row in rows)
    assert [code for code, n in counts.items() if n > 1] == []
    codes = [r.code for r in demo if r.kind == "code"]
    assert len(codes) == len(set(codes)) == len(rows)


def test_demo_descriptions_and_codes_are_well_formed(demo: list[CodeRecord]) -> None:
    for record in _codes(demo).values():
        assert record.title.strip(), record.code
        assert cpt.is_cpt_code(record.code)
        assert all(s.strip() for s in record.synonyms)


def test_demo_sections_come_first_and_match_code_ranges(demo: list[CodeRecord]) -> None:
    sections = [r for r in demo if r.kind == "section"]
    assert demo[: len(sections)] == sections
    assert {s.code for s in sections} == set(cpt.DEMO_CATEGORIES)
    for section in sections:
        assert not section.billable
        assert section.demo
        assert section.title.endswith("(demo)")
    for record in _codes(demo).values():
        assert record.parent == cpt.section_for(record.code), record.code


def test_demo_record_fields(demo: list[CodeRecord]) -> None:
    codes = _codes(demo)
    chole = codes["47562"]
    assert chole.parent == "surgery"
    assert "lap chole" in chole.synonyms
    assert codes["99213"].parent == "evaluation_management"
    assert codes["71046"].parent == "radiology"


def test_demo_source_info() -> None:
    info = cpt.source_info()
    assert info.system is System.CPT
    assert info.version == "demo"
    assert "not AMA text" in info.name
    assert info.files == (str(cpt.DEMO_FILE.resolve()),)


def test_demo_readme_states_the_licensing() -> None:
    text = (cpt.DEMO_FILE.parent / "CPT_DEMO_README.md").read_text(encoding="utf-8")
    assert "American Medical Association" in text
    assert "CAC_CPT_FILE" in text


# --- licensed files ---------------------------------------------------------------------------


def test_licensed_tsv_with_header(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# licensed file, test copy\n"
        "CPT Code\tDescriptor\tExtra\n"
        "\n"
        "99213\tfixture descriptor one\tignored column\n"
        "47562\tfixture   descriptor two\n"
        "0001u\tfixture descriptor three\n"
        "0500F\tfixture descriptor four\n"
        "0042T\tfixture descriptor five\n"
        "00100\tfixture descriptor six\n",
    )
    records = list(cpt.load(path))
    codes = _codes(records)
    assert list(codes) == ["99213", "47562", "0001U", "0500F", "0042T", "00100"]
    assert not any(r.demo for r in records)
    assert codes["99213"].title == "fixture descriptor one"
    assert codes["47562"].title == "fixture descriptor two"
    assert codes["99213"].parent == "evaluation_management"
    assert codes["47562"].parent == "surgery"
    assert codes["0001U"].parent == "pathology_lab"
    assert codes["0500F"].parent == "category_ii"
    assert codes["0042T"].parent == "category_iii"
    assert codes["00100"].parent == "anesthesia"
    sections = [r for r in records if r.kind == "section"]
    assert records[: len(sections)] == sections
    assert {s.code for s in sections} == {
        "evaluation_management",
        "surgery",
        "pathology_lab",
        "category_ii",
        "category_iii",
        "anesthesia",
    }
    assert all(not s.billable and not s.title.endswith("(demo)") for s in sections)


def test_licensed_file_without_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "99213\tfixture descriptor one\n71046\tfixture descriptor two\n")
    assert list(_codes(list(cpt.load(path)))) == ["99213", "71046"]


def test_space_separated_format(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Code Descriptor\n"
        "99213 fixture descriptor one\n"
        "71046   fixture descriptor two, with a comma\n",
    )
    codes = _codes(list(cpt.load(path)))
    assert codes["99213"].title == "fixture descriptor one"
    assert codes["71046"].title == "fixture descriptor two, with a comma"
    assert codes["71046"].parent == "radiology"


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_bytes(b"\xef\xbb\xbfcode\tdescriptor\r\n99213\tfixture descriptor one\r\n")
    assert list(_codes(list(cpt.load(path)))) == ["99213"]


def test_duplicates_keep_the_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(
        tmp_path,
        "99213\tfixture descriptor one\n99213\tfixture descriptor two\n",
    )
    with caplog.at_level(logging.WARNING, logger="cac.codesets.cpt"):
        codes = _codes(list(cpt.load(path)))
    assert codes["99213"].title == "fixture descriptor one"
    assert "1 duplicate" in caplog.text


def test_bad_code_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "code\tdescriptor\n99213\tfixture descriptor one\n9921\tsecret descriptor text\n",
    )
    with pytest.raises(SourceError) as info:
        cpt.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert "secret descriptor text" not in message


def test_line_without_descriptor(tmp_path: Path) -> None:
    path = _write(tmp_path, "99213\tfixture descriptor one\n47562\t  \n71046\n")
    with pytest.raises(SourceError, match="line 2"):
        cpt.load(path)
    path = _write(tmp_path, "99213 fixture descriptor one\n71046\n", name="fixed.txt")
    with pytest.raises(SourceError, match="line 2"):
        cpt.load(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.tsv"
    with pytest.raises(SourceError) as info:
        cpt.load(path)
    assert str(path) in str(info.value)


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no CPT codes"):
        cpt.load(_write(tmp_path, "", name="empty.txt"))
    with pytest.raises(SourceError, match="no CPT codes"):
        cpt.load(_write(tmp_path, "# nothing\ncode\tdescriptor\n\n", name="header.txt"))


def test_directory_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        cpt.load(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_licensed_source_info(tmp_path: Path) -> None:
    path = _write(tmp_path, "99213\tfixture descriptor one\n")
    info = cpt.source_info(path)
    assert info.name == "licensed CPT file"
    assert info.version == "user-supplied"
    assert info.files == (str(path.resolve()),)


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("00100", "anesthesia"),
        ("01999", "anesthesia"),
        ("10004", "surgery"),
        ("69990", "surgery"),
        ("70010", "radiology"),
        ("80047", "pathology_lab"),
        ("89398", "pathology_lab"),
        ("90281", "medicine"),
        ("99199", "medicine"),
        ("99202", "evaluation_management"),
        ("99499", "evaluation_management"),
        ("99500", "medicine"),
        ("99607", "medicine"),
        ("1036f", "category_ii"),
        ("0042T", "category_iii"),
        ("0001U", "pathology_lab"),
        ("99201", "other"),
    ],
)
def test_section_for(code: str, section: str) -> None:
    assert cpt.section_for(code) == section


def test_is_cpt_code() -> None:
    assert cpt.is_cpt_code("99213")
    assert cpt.is_cpt_code("0001u")
    assert not cpt.is_cpt_code("9921")
    assert not cpt.is_cpt_code("99213A")
    assert not cpt.is_cpt_code("A0425")
    with pytest.raises(ValueError):
        cpt.section_for("E11.9")
