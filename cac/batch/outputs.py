"""Batch output: part files while a run goes, one sorted file (and an errors file) at the end.

A run writes each chunk of coded notes as a part file under ``OUTPUT.parts/`` (atomically: a
temporary name, then a rename), so an interruption loses at most the chunk in flight. A rerun
reads the ids already settled (in ``OUTPUT``, its errors file and any parts) and skips them. At
the end the parts and any earlier ``OUTPUT`` are compacted into ``OUTPUT`` sorted by
``(note_id, rank)`` and the errors file sorted by input position, so the final files do not
depend on worker timing or on where a run was interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cac.batch.impact import IMPACT_COLUMNS
from cac.batch.records import SETTLED_KINDS, RowError
from cac.batch.rows import ERROR_SCHEMA, ROW_SCHEMA
from cac.errors import CacError

Format = Literal["parquet", "jsonl"]
_FORMATS: dict[str, Format] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass(frozen=True)
class OutputPaths:
    """Where a run writes: ``OUTPUT``, its errors file beside it, and the parts folder."""

    output: Path

    @property
    def format(self) -> Format:
        return _FORMATS[self.output.suffix.lower()]

    @property
    def errors(self) -> Path:
        """``out.parquet`` -> ``out.errors.parquet`` (same format as the output)."""
        return self.output.with_name(f"{self.output.stem}.errors{self.output.suffix}")

    @property
    def parts(self) -> Path:
        return self.output.with_name(f"{self.output.name}.parts")


def output_paths(output: Path) -> OutputPaths:
    """Validate ``output``'s extension and folder.

    Raises:
        CacError: for an extension other than .parquet/.pq/.jsonl/.ndjson, or a missing folder.
    """
    if output.suffix.lower() not in _FORMATS:
        raise CacError(f"OUTPUT must end in .parquet or .jsonl: {output}")
    if not output.parent.is_dir():
        raise CacError(f"the folder of OUTPUT does not exist: {output.parent}")
    if output.is_dir():
        raise CacError(f"OUTPUT is a folder: {output}")
    return OutputPaths(output)


# Row columns added after the first release, with what a row written before them holds.
_ADDED_ROW_COLUMNS: dict[str, Any] = {
    "rationale": [],
    "suppressed_by": None,
    "alternatives": [],
    **dict.fromkeys(IMPACT_COLUMNS),
}


def _upgrade_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of an OUTPUT written before rationale, suppressed_by, alternatives, evidence kinds
    or the impact columns (a rerun into it still reads it): empty lists, no suppression,
    evidence spans as mentions, no impact."""
    for record in records:
        for name, empty in _ADDED_ROW_COLUMNS.items():
            if name not in record:
                record[name] = list(empty) if isinstance(empty, list) else empty
        for span in record.get("evidence") or []:
            span.setdefault("kind", "mention")
    return records


def _read(path: Path, schema: pa.Schema, fmt: Format) -> pa.Table:
    try:
        if fmt == "parquet":
            table = pq.read_table(path)
            if schema is ROW_SCHEMA and not _ADDED_ROW_COLUMNS.keys() <= set(table.column_names):
                old = table.select([n for n in schema.names if n in table.column_names])
                return pa.Table.from_pylist(_upgrade_rows(old.to_pylist()), schema=schema)
            return table.select(schema.names).cast(schema)
        with path.open(encoding="utf-8") as lines:
            records = [json.loads(line) for line in lines if line.strip()]
        if schema is ROW_SCHEMA:
            records = _upgrade_rows(records)
        return pa.Table.from_pylist(records, schema=schema)
    except (pa.ArrowException, ValueError, KeyError, TypeError, OSError):
        raise CacError(
            f"{path} exists but is not a cac batch file; move it away or choose another OUTPUT"
        ) from None


def _write(table: pa.Table, path: Path, fmt: Format) -> None:
    """Write ``table`` to ``path`` atomically (temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    if fmt == "parquet":
        pq.write_table(table, temporary)
    else:
        with temporary.open("w", encoding="utf-8") as out:
            for batch in table.to_batches():
                for record in batch.to_pylist():
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(temporary, path)


def _parts(paths: OutputPaths, kind: str) -> list[Path]:
    if not paths.parts.is_dir():
        return []
    return sorted(paths.parts.glob(f"part-*.{kind}.parquet"))


@dataclass
class Settled:
    """What earlier runs into the same OUTPUT already did."""

    ids: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)


def settled(paths: OutputPaths) -> Settled:
    """Ids already coded or failed for good, and the model versions already in the output."""
    done = Settled()
    row_tables = [_read(p, ROW_SCHEMA, "parquet") for p in _parts(paths, "rows")]
    if paths.output.exists():
        row_tables.append(_read(paths.output, ROW_SCHEMA, paths.format))
    for table in row_tables:
        done.ids.update(pc.unique(table["note_id"]).drop_null().to_pylist())
        done.models.update(pc.unique(table["model"]).drop_null().to_pylist())
    error_tables = [_read(p, ERROR_SCHEMA, "parquet") for p in _parts(paths, "errors")]
    if paths.errors.exists():
        error_tables.append(_read(paths.errors, ERROR_SCHEMA, paths.format))
    for table in error_tables:
        mask = pc.is_in(table["kind"], value_set=pa.array(sorted(SETTLED_KINDS)))
        done.ids.update(pc.unique(table.filter(mask)["note_id"]).drop_null().to_pylist())
    return done


class PartWriter:
    """Writes each chunk of a run as numbered part files, continuing after earlier runs' parts."""

    def __init__(self, paths: OutputPaths) -> None:
        self.paths = paths
        paths.parts.mkdir(exist_ok=True)
        numbers = [int(p.name.split(".")[0].split("-")[1]) for p in paths.parts.glob("part-*")]
        self.next = max(numbers, default=-1) + 1

    def write(self, records: list[dict[str, Any]], errors: list[RowError]) -> None:
        """One chunk: its suggestion rows and its errors (each file is complete or absent)."""
        stem = f"part-{self.next:06d}"
        self.next += 1
        if records:
            rows = pa.Table.from_pylist(records, schema=ROW_SCHEMA)
            _write(rows, self.paths.parts / f"{stem}.rows.parquet", "parquet")
        if errors:
            table = pa.Table.from_pylist([e.to_record() for e in errors], schema=ERROR_SCHEMA)
            _write(table, self.paths.parts / f"{stem}.errors.parquet", "parquet")


@dataclass(frozen=True)
class Compacted:
    rows: int
    notes: int
    errors: int


def compact(paths: OutputPaths) -> Compacted:
    """Merge the parts (and an earlier OUTPUT) into the sorted OUTPUT and errors file."""
    tables = [_read(p, ROW_SCHEMA, "parquet") for p in _parts(paths, "rows")]
    if paths.output.exists():
        earlier = _read(paths.output, ROW_SCHEMA, paths.format)
        # After a crash between writing OUTPUT and removing the parts, a part repeats notes.
        known = pc.unique(earlier["note_id"])
        tables = [t.filter(pc.invert(pc.is_in(t["note_id"], value_set=known))) for t in tables]
        tables.append(earlier)
    rows = pa.concat_tables(tables) if tables else ROW_SCHEMA.empty_table()
    rows = rows.sort_by([("note_id", "ascending"), ("rank", "ascending")])
    _write(rows, paths.output, paths.format)

    error_tables = [_read(p, ERROR_SCHEMA, "parquet") for p in _parts(paths, "errors")]
    if paths.errors.exists():
        error_tables.append(_read(paths.errors, ERROR_SCHEMA, paths.format))
    unique = {tuple(r[c] for c in ERROR_SCHEMA.names) for t in error_tables for r in t.to_pylist()}
    ordered = sorted(unique, key=lambda r: (r[1], r[2], r[3], r[0] or "", r[4]))
    errors = pa.Table.from_pylist(
        [dict(zip(ERROR_SCHEMA.names, r, strict=True)) for r in ordered], schema=ERROR_SCHEMA
    )
    _write(errors, paths.errors, paths.format)
    shutil.rmtree(paths.parts, ignore_errors=True)
    return Compacted(rows.num_rows, len(pc.unique(rows["note_id"])), errors.num_rows)
