"""ICD-10-PCS loader: a mini code table and tables database, plus the bundled sources."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cac.codesets import icd10pcs
from cac.codesets.records import CodeRecord
from cac.errors import SourceError

_TREE = [
    ("0FT40ZZ", "Resection of Gallbladder, Open Approach", "0"),
    ("0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", "4"),
]
_APPROACH = {"0": "Open", "4": "Percutaneous Endoscopic"}


def _write_sources(tmp_path: Path, extra_codes: list[str] | None = None) -> tuple[Path, Path]:
    codes = tmp_path / "pcs.csv"
    rows = [f'"{c}","{t}"' for c, t, _ in _TREE]
    rows.append(
        '"3E03329","Introduction of Other Anti-infective into Peripheral Vein, Percutaneous Approach"'
    )
    rows.append(
        '"3E0436Z","Introduction of Nutritional Substance into Central Vein, Percutaneous Approach"'
    )
    codes.write_text("\n".join(rows + (extra_codes or [])) + "\n", encoding="utf-8")
    db_path = tmp_path / "tables.db"
    with sqlite3.connect(db_path) as db:
        db.execute(
            "CREATE TABLE pcs_tree (section, body_system, root_op, body_part, approach, device,"
            " qualifier, code, sec_def, bs_def, ro_def, bp_def, ap_def, dv_def, qu_def)"
        )
        for code, _, approach in _TREE:
            db.execute(
                "INSERT INTO pcs_tree VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    *code,
                    code,
                    "Medical and Surgical",
                    "Hepatobiliary System and Pancreas",
                    "Resection: Cutting out or off",
                    "Gallbladder",
                    _APPROACH[approach],
                    "No Device",
                    "No Qualifier",
                ),
            )
        db.execute("CREATE TABLE pcs_index (term, content)")
        db.execute(
            "INSERT INTO pcs_index VALUES ('Cholecystectomy', "
            "'see Excision, Gallbladder **0FB4**\nsee Resection, Gallbladder **0FT4**')"
        )
    return codes, db_path


@pytest.fixture
def mini(tmp_path: Path) -> dict[str, CodeRecord]:
    codes, tables = _write_sources(tmp_path)
    return {r.code: r for r in icd10pcs.load(codes, tables)}


def test_codes_have_seven_axis_values(mini: dict[str, CodeRecord]) -> None:
    axes = dict(mini["0FT44ZZ"].axes)
    assert list(axes) == list(icd10pcs.AXES)
    assert axes["root_operation"] == "Resection" and axes["body_part"] == "Gallbladder"
    assert axes["approach"] == "Percutaneous Endoscopic"
    assert mini["0FT44ZZ"].billable and mini["0FT44ZZ"].parent == "0FT4"


def test_hierarchy_nodes_are_not_billable(mini: dict[str, CodeRecord]) -> None:
    assert mini["0FT4"].kind == "body_part" and not mini["0FT4"].billable
    assert mini["0FT4"].title == "Resection of Gallbladder"
    assert mini["0FT"].parent == "0F" and mini["0F"].parent == "0"
    assert mini["0"].title == "Medical and Surgical"


def test_index_terms_become_synonyms_with_approach_words(mini: dict[str, CodeRecord]) -> None:
    assert "Cholecystectomy" in mini["0FT4"].synonyms
    assert "laparoscopic Cholecystectomy" in mini["0FT44ZZ"].synonyms
    assert "open Cholecystectomy" in mini["0FT40ZZ"].synonyms


def test_axes_inferred_from_titles_where_tables_lack_them(mini: dict[str, CodeRecord]) -> None:
    axes = dict(mini["3E03329"].axes)
    assert axes["section"] == "Administration"
    assert axes["root_operation"] == "Introduction"
    assert axes["body_part"]  # inferred from titles: a best effort, see icd10pcs.infer_labels
    assert dict(mini["3E03329"].attributes)["axes_source"] == "titles"


def test_bad_row_names_file_and_line(tmp_path: Path) -> None:
    codes, tables = _write_sources(tmp_path, extra_codes=['"XYZ","not a code"'])
    with pytest.raises(SourceError, match=r"pcs.csv, line 5"):
        list(icd10pcs.load(codes, tables))


def test_missing_tables_database(tmp_path: Path) -> None:
    codes, _ = _write_sources(tmp_path)
    with pytest.raises(SourceError, match="absent.db"):
        list(icd10pcs.load(codes, tmp_path / "absent.db"))


def test_bundled_sources_cover_every_valid_code() -> None:
    records = [r for r in icd10pcs.load() if r.kind == "code"]
    assert len(records) >= 78_000
    chole = next(r for r in records if r.code == "0FT44ZZ")
    assert dict(chole.axes)["body_part"] == "Gallbladder"
    assert all(len(r.axes) == 7 for r in records)
