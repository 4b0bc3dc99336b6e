"""Readers: each format's rows and row errors in input order; unusable inputs fail as a whole."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cac.batch.inputs import open_input
from cac.batch.records import NoteRow, RowError
from cac.errors import CacError


def test_folder_ids_are_file_names_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\xff\xfe latin")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    source = open_input(tmp_path, "outpatient")
    rows = list(source.rows())
    assert source.count() == 3
    assert rows[:2] == [
        NoteRow("a", "first", "outpatient", 0, "a.txt"),
        NoteRow("b", "second", "outpatient", 1, "b.txt"),
    ]
    assert rows[2] == RowError("c", 2, "c.txt", "note", "text is not UTF-8")


def test_jsonl_rows_and_row_errors(messy_jsonl: Path) -> None:
    rows = list(open_input(messy_jsonl).rows())
    errors = {r.location: r for r in rows if isinstance(r, RowError)}
    assert errors["line 4"] == RowError(None, 3, "line 4", "input", "missing id")
    assert errors["line 5"] == RowError("latin1", 4, "line 5", "note", "text is not UTF-8")
    assert errors["line 7"].reason == "not a JSON object"
    notes = [r for r in rows if isinstance(r, NoteRow)]
    assert [n.id for n in notes][:3] == ["n01", "empty", "n02"]
    assert next(n for n in notes if n.id == "ward").setting == "icu"  # checked when coding


def test_parquet_with_integer_ids_binary_text_and_settings(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, None, 3, 4], pa.int64()),
            "text": pa.array([b"pneumonia", b"x", b"\xc3\x28", None], pa.binary()),
            "setting": ["outpatient", None, None, None],
        }
    )
    pq.write_table(table, tmp_path / "notes.parquet")
    rows = list(open_input(tmp_path / "notes.parquet").rows())
    assert rows == [
        NoteRow("1", "pneumonia", "outpatient", 0, "row 1"),
        RowError(None, 1, "row 2", "input", "missing id"),
        RowError("3", 2, "row 3", "note", "text is not UTF-8"),
        RowError("4", 3, "row 4", "note", "missing text"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "not found"),
        ("notes.csv", b"id,text\n", "cannot tell the format"),
        ("notes.parquet", b"not parquet", "as Parquet"),
    ],
)
def test_unusable_inputs_raise(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CacError, match=message):
        open_input(path)


def test_parquet_without_text_column_and_empty_folder(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), tmp_path / "n.parquet")
    with pytest.raises(CacError, match="'id' and 'text'"):
        open_input(tmp_path / "n.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CacError, match="no .txt files"):
        open_input(tmp_path / "empty")
