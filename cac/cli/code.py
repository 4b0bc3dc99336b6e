"""``cac code``: suggest codes for one note."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cac.cli.common import console, fail_cleanly


def _read(source: str) -> str:
    from cac.pipeline import CodingInputError

    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise CodingInputError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CodingInputError(f"{source} is not UTF-8 text") from None


@fail_cleanly
def code(
    source: Annotated[str, typer.Argument(help="A text file, or - for standard input.")],
    setting: Annotated[
        str, typer.Option("--setting", help="inpatient or outpatient.")
    ] = "inpatient",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Suggest ICD-10-CM, ICD-10-PCS, CPT and HCPCS codes for a note."""
    from cac.pipeline import Coder, CodingInputError

    text = _read(source)
    if setting not in ("inpatient", "outpatient"):
        raise CodingInputError("--setting must be inpatient or outpatient")
    result = Coder.load().code(text, setting)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in ("system", "code", "confidence", "description", "evidence"):
        table.add_column(column)
    for s in result.suggestions:
        if s.shown:
            evidence = "; ".join(e.text for e in s.evidence)
            flag = " (DEMO)" if s.demo else ""
            table.add_row(
                s.system.value,
                s.code,
                f"{s.confidence:.2f}",
                escape(s.description + flag),
                escape(evidence),
            )
    console.print(table)
