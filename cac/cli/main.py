"""The ``cac`` command line. Library code never prints; output happens here."""

from __future__ import annotations

import sys

import typer

from cac.cli import codes, kb
from cac.errors import CacError

app = typer.Typer(
    name="cac",
    help="Computer-assisted coding: ICD-10-CM, ICD-10-PCS, HCPCS and CPT suggestions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(kb.app, name="kb")
app.add_typer(codes.app, name="codes")


@app.command()
def version() -> None:
    """Print the cac version."""
    import cac

    typer.echo(cac.__version__)


def main() -> None:
    """Entry point that turns any CacError into a one-line message and exit status 1."""
    try:
        app(standalone_mode=True)
    except CacError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
