"""The ``cac`` command line. Library code never prints; output happens here."""

from __future__ import annotations

import typer

from cac.cli import audit, batch, code, codes, evaluate, export, impact, kb, keys, models, serve

app = typer.Typer(
    name="cac",
    help="Computer-assisted coding: ICD-10-CM, ICD-10-PCS, HCPCS and CPT suggestions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(kb.app, name="kb")
app.add_typer(codes.app, name="codes")
app.add_typer(evaluate.app, name="eval")
app.command("code")(code.code)
app.command("batch")(batch.batch)
app.command("impact")(impact.impact)
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(models.app, name="models")
app.add_typer(export.app, name="export")
app.command("serve")(serve.serve)


@app.command()
def version() -> None:
    """Print the cac version."""
    import cac

    typer.echo(cac.__version__)
