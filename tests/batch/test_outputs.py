"""Part files and compaction: sorted, de-duplicated, and safe to repeat after a crash."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from cac.batch.outputs import PartWriter, compact, output_paths, settled
from cac.batch.records import RowError
from cac.batch.rows import code_note
from tests.batch.fake_coder import FakeCoder


def _records(note_id: str, text: str = "pneumonia") -> list[dict[str, object]]:
    rows = code_note(FakeCoder(), note_id, text, "inpatient")
    return [{k: v for k, v in r.items() if k not in ("error_kind", "error")} for r in rows]


def test_compaction_sorts_parts_and_survives_a_crash_before_the_parts_were_removed(
    tmp_path: Path,
) -> None:
    paths = output_paths(tmp_path / "out.parquet")
    writer = PartWriter(paths)
    writer.write(_records("b") + _records("c", "nothing"), [])
    writer.write(_records("a"), [RowError("z", 4, "line 5", "note", "the note is empty")])
    writer.write([], [RowError(None, 1, "line 2", "input", "missing id")])
    done = settled(paths)
    assert done.ids == {"a", "b", "c", "z"}

    copies = {p.name: p.read_bytes() for p in paths.parts.iterdir()}
    first = compact(paths)
    assert (first.rows, first.notes, first.errors) == (5, 3, 2)
    table = pq.read_table(paths.output)
    assert list(zip(table["note_id"].to_pylist(), table["rank"].to_pylist(), strict=True)) == [
        ("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", None),
    ]  # fmt: skip
    assert pq.read_table(paths.errors)["position"].to_pylist() == [1, 4]
    output, errors = paths.output.read_bytes(), paths.errors.read_bytes()

    # As if the process died after writing OUTPUT but before removing the parts.
    paths.parts.mkdir()
    for name, data in copies.items():
        (paths.parts / name).write_bytes(data)
    compact(paths)
    assert (paths.output.read_bytes(), paths.errors.read_bytes()) == (output, errors)


def test_a_new_part_never_overwrites_an_earlier_one(tmp_path: Path) -> None:
    paths = output_paths(tmp_path / "out.jsonl")
    PartWriter(paths).write(_records("a"), [])
    PartWriter(paths).write(_records("b"), [])
    assert len(list(paths.parts.glob("*.rows.parquet"))) == 2
