"""Part files and compaction: sorted, de-duplicated, and safe to repeat after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cac.batch.impact import IMPACT_COLUMNS
from cac.batch.outputs import PartWriter, compact, output_paths, settled
from cac.batch.records import RowError
from cac.batch.rows import code_note
from cac.impact import shared_engine
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


@pytest.mark.parametrize("name", ["out.parquet", "out.jsonl"])
def test_an_output_written_before_rationale_columns_still_resumes(
    tmp_path: Path, name: str
) -> None:
    paths = output_paths(tmp_path / name)
    new = _records("a")
    old = [
        {
            **{
                k: v
                for k, v in r.items()
                if k not in ("rationale", "suppressed_by", "alternatives")
            },
            "evidence": [{"start": e["start"], "end": e["end"]} for e in r["evidence"]],
        }
        for r in _records("b")
    ]
    if paths.format == "parquet":
        pq.write_table(pa.Table.from_pylist(old), paths.output)
    else:
        paths.output.write_text("".join(json.dumps(r) + "\n" for r in old), encoding="utf-8")
    PartWriter(paths).write(new, [])

    assert settled(paths).ids == {"a", "b"}
    compact(paths)

    if paths.format == "parquet":
        rows = pq.read_table(paths.output).to_pylist()
    else:
        rows = [json.loads(line) for line in paths.output.read_text().splitlines()]
    b1, b2 = (r for r in rows if r["note_id"] == "b")
    assert b1["evidence"] == [{"start": 0, "end": 9, "kind": "mention"}]
    assert (b1["rationale"], b1["suppressed_by"], b2["alternatives"]) == ([], None, [])
    assert next(r for r in rows if r["note_id"] == "a")["rationale"][0]["rule"] == "cut.confidence"


def test_an_output_written_before_the_impact_columns_resumes_with_rationale_kept(
    tmp_path: Path,
) -> None:
    paths = output_paths(tmp_path / "out.parquet")
    engine = shared_engine()
    new = [
        {k: v for k, v in r.items() if k not in ("error_kind", "error")}
        for r in code_note(FakeCoder(), "a", "pneumonia", "inpatient", engine=engine)
    ]
    old = [{k: v for k, v in r.items() if k not in IMPACT_COLUMNS} for r in _records("b")]
    pq.write_table(pa.Table.from_pylist(old), paths.output)
    PartWriter(paths).write(new, [])

    compact(paths)

    rows = pq.read_table(paths.output).to_pylist()
    b = next(r for r in rows if r["note_id"] == "b")
    assert b["rationale"][0]["rule"] == "cut.confidence"  # kept, not emptied
    assert all(b[c] is None for c in IMPACT_COLUMNS)
    assert next(r for r in rows if r["note_id"] == "a")["drg"] == "195"
