"""Batch fixtures: notes files with good and malformed rows, and one SparkSession per test session."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# (id, text) of well-formed notes; "nothing" gives no suggestions, "explode" makes the fake raise.
GOOD = [
    ("n01", "Admitted with pneumonia."),
    ("n02", "Follow-up visit."),
    ("n03", "nothing"),
    ("n04", "pneumonia, then pneumonia again"),
    ("n05", "Fever."),
]
PHI = "Jane Roe MRN 4711 explode"


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def messy_jsonl(tmp_path: Path) -> Path:
    """Good notes plus one of each malformed row, in a fixed order."""
    good = [json.dumps({"id": i, "text": t}).encode() for i, t in GOOD]
    return write_jsonl(
        tmp_path / "notes.jsonl",
        [
            good[0],
            json.dumps({"id": "empty", "text": "  \n"}).encode(),
            good[1],
            json.dumps({"text": "a note nobody can find"}).encode(),
            b'{"id": "latin1", "text": "caf\xe9 pneumonia"}',
            good[2],
            b"{not json",
            json.dumps({"id": "phi", "text": PHI}).encode(),
            good[3],
            json.dumps({"id": "n01", "text": "a second n01"}).encode(),
            json.dumps({"id": "ward", "text": "pneumonia", "setting": "icu"}).encode(),
            good[4],
        ],
    )


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local[2] session for every Spark test (starting Spark takes 10-20 s)."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17 or 21 (java not found)")
    from cac.batch.spark import local_session

    session = local_session("local[2]")
    yield session
    session.stop()
