"""Readers of batch input: a folder of ``.txt`` files, a JSONL file, or a Parquet file.

Each yields, in input order, a :class:`NoteRow` per usable row and a :class:`RowError` per row
it cannot turn into a note (bad JSON, missing id, non-UTF-8 bytes). An input that is unusable as
a whole (missing, unknown format, no ``id``/``text`` columns) raises :class:`cac.errors.CacError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from cac.batch.records import ErrorKind, NoteRow, RowError
from cac.errors import CacError

JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
_BATCH_ROWS = 1024


class NoteInput(Protocol):
    """A readable batch input."""

    def count(self) -> int:
        """How many rows the input has (for progress), without decoding them."""
        ...

    def rows(self) -> Iterator[NoteRow | RowError]:
        """The rows, in input order."""
        ...


def _id(value: Any) -> str | None:
    """An id from JSON or Parquet: a non-empty string, or an integer written as one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _note(
    raw_id: Any,
    text: Any,
    setting: Any,
    default: str,
    position: int,
    location: str,
    age: Any = None,
    sex: Any = None,
) -> NoteRow | RowError:
    note_id = _id(raw_id)
    if note_id is None:
        return RowError(None, position, location, "input", "missing id")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return RowError(note_id, position, location, "note", "text is not UTF-8")
    if text is None:
        return RowError(note_id, position, location, "note", "missing text")
    if not isinstance(text, str):
        return RowError(note_id, position, location, "note", "text is not a string")
    chosen = default if setting is None else setting if isinstance(setting, str) else str(setting)
    return NoteRow(note_id, text, chosen, position, location, age, sex)


@dataclass(frozen=True)
class TextFolder:
    """``DIR/*.txt``, sorted by file name; the id is the name without ``.txt``."""

    path: Path
    setting: str

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.suffix == ".txt" and p.is_file())

    def count(self) -> int:
        return len(self._files())

    def rows(self) -> Iterator[NoteRow | RowError]:
        for position, file in enumerate(self._files()):
            note_id, location = file.name[: -len(".txt")], file.name
            try:
                data = file.read_bytes()
            except OSError as exc:
                reason = f"cannot read the file ({exc.strerror or type(exc).__name__})"
                yield RowError(note_id, position, location, "note", reason)
                continue
            yield _note(note_id, data, None, self.setting, position, location)


@dataclass(frozen=True)
class JsonLines:
    """One JSON object per line: ``id``, ``text``, optional ``setting``, ``patient_age`` and
    ``patient_sex``. Blank lines are skipped."""

    path: Path
    setting: str

    def count(self) -> int:
        with self.path.open("rb") as lines:
            return sum(1 for line in lines if line.strip())

    def rows(self) -> Iterator[NoteRow | RowError]:
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield self._row(line, number)

    def _row(self, line: bytes, number: int) -> NoteRow | RowError:
        position, location = number - 1, f"line {number}"
        utf8 = True
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError:
            decoded, utf8 = line.decode("utf-8", errors="replace"), False
        try:
            record = json.loads(decoded)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            reason = "not a JSON object" if utf8 else "not UTF-8"
            return RowError(None, position, location, "input", reason)
        if not utf8:
            note_id = _id(record.get("id"))
            kind: ErrorKind = "note" if note_id is not None else "input"
            return RowError(note_id, position, location, kind, "text is not UTF-8")
        return _note(
            record.get("id"), record.get("text"), record.get("setting"), self.setting,
            position, location, record.get("patient_age"), record.get("patient_sex"),
        )  # fmt: skip


@dataclass(frozen=True)
class ParquetNotes:
    """A Parquet file with columns ``id``, ``text`` and optionally ``setting``, ``patient_age``
    and ``patient_sex``."""

    path: Path
    setting: str

    def _file(self) -> pq.ParquetFile:
        try:
            file = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError):
            raise CacError(f"cannot read {self.path} as Parquet") from None
        names = set(file.schema_arrow.names)
        if not {"id", "text"} <= names:
            raise CacError(f"{self.path} needs columns 'id' and 'text' (has: {sorted(names)})")
        return file

    def count(self) -> int:
        return int(self._file().metadata.num_rows)

    def rows(self) -> Iterator[NoteRow | RowError]:
        file = self._file()
        wanted = ("id", "text", "setting", "patient_age", "patient_sex")
        columns = [c for c in wanted if c in file.schema_arrow.names]
        position = 0
        for batch in file.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            for record in batch.to_pylist():
                location = f"row {position + 1}"
                yield _note(
                    record.get("id"), record.get("text"), record.get("setting"), self.setting,
                    position, location, record.get("patient_age"), record.get("patient_sex"),
                )  # fmt: skip
                position += 1


def open_input(path: Path, setting: str = "inpatient") -> NoteInput:
    """The reader for ``path``, chosen by what it is.

    Raises:
        CacError: if ``path`` does not exist, is not one of the three formats, or (for Parquet)
            lacks the ``id`` and ``text`` columns.
    """
    if not path.exists():
        raise CacError(f"input not found: {path}")
    if path.is_dir():
        folder = TextFolder(path, setting)
        if folder.count() == 0:
            raise CacError(f"no .txt files in {path}")
        return folder
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return JsonLines(path, setting)
    if suffix in PARQUET_SUFFIXES:
        reader = ParquetNotes(path, setting)
        reader.count()  # fails now on a file that is not Parquet or lacks the columns
        return reader
    raise CacError(
        f"cannot tell the format of {path}: give a folder of .txt files, a .jsonl file or a "
        ".parquet file"
    )
