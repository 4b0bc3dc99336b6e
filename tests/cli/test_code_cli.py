"""``cac code``: JSON output and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cac.cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.kb


def test_code_json_from_stdin() -> None:
    text = "Type 2 diabetes mellitus without complications."
    result = runner.invoke(app, ["code", "-", "--json"], input=text)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    e119 = next(s for s in payload["suggestions"] if s["code"] == "E11.9")
    assert all(text[e["start"] : e["end"]] == e["text"] for e in e119["evidence"])


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"   \n", "empty"), (b"\xff\xfe\x00bad", "not UTF-8"), (b"ab\x00cd", "NUL")],
)
def test_bad_input_is_one_line_and_non_zero(tmp_path: Path, content: bytes, message: str) -> None:
    note = tmp_path / "note.txt"
    note.write_bytes(content)
    result = runner.invoke(app, ["code", str(note)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]


def test_missing_file_and_bad_setting() -> None:
    assert runner.invoke(app, ["code", "/no/such/note.txt"]).exit_code == 1
    result = runner.invoke(app, ["code", "-", "--setting", "icu"], input="pneumonia")
    assert result.exit_code == 1 and "setting" in result.output
