"""``cac batch``: one-line errors for unusable input, the summary line for a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cac.cli.main import app
from tests.batch.fake_coder import FACTORY

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/notes.jsonl", "{out}"], "input not found"),
        (["{notes}", "{tmp}/out.csv"], "OUTPUT must end in .parquet or .jsonl"),
        (["{notes}", "{out}", "--engine", "dask"], "--engine must be local or spark"),
        (["{notes}", "{out}", "--setting", "icu"], "--setting must be"),
        (["{notes}", "{out}", "--coder", "no.such:factory"], "cannot import the coder factory"),
    ],
)
def test_unusable_input_is_one_error_line(
    tmp_path: Path, messy_jsonl: Path, args: list[str], message: str
) -> None:
    values = {"notes": messy_jsonl, "out": tmp_path / "out.parquet", "tmp": tmp_path}
    result = runner.invoke(app, ["batch", *(a.format(**values) for a in args)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output


def test_a_run_reports_what_it_did(tmp_path: Path, messy_jsonl: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(messy_jsonl), str(out), "--workers", "1",
                                 "--coder", FACTORY])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "coded 5 notes" in result.stdout and "7 failed" in result.stdout
    assert (tmp_path / "out.errors.jsonl").exists()
