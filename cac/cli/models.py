"""``cac models``: list the registered model versions and move their aliases."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cac.cli.common import console, fail_cleanly
from cac.registry import CHAMPION, MODEL_NAMES, RegisteredModelInfo, list_models, promote

app = typer.Typer(
    help="List the registered models and promote versions (MLflow registry).",
    no_args_is_help=True,
)


def _as_json(model: RegisteredModelInfo) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [
            {
                "version": v.version,
                "aliases": list(v.aliases),
                "created": v.created.isoformat(timespec="seconds"),
                "data_sha256": v.data_sha256,
                "git_commit": v.git_commit,
                "metrics": v.metrics,
            }
            for v in model.versions
        ],
    }


@app.command("list")
@fail_cleanly
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List cac's registered models: versions, aliases, dates, data hash, commit, key metrics."""
    models = list_models()
    if as_json:
        typer.echo(json.dumps([_as_json(m) for m in models], indent=2))
        return
    if not models:
        typer.echo("no registered models; the service uses the files in models/", err=True)
        return
    table = Table()
    for column in ("model", "version", "aliases", "created", "data", "commit", "metrics"):
        table.add_column(column)
    for model in models:
        for v in model.versions:
            metrics = ", ".join(f"{k} {value:.3f}" for k, value in sorted(v.metrics.items()))
            table.add_row(
                model.name,
                str(v.version),
                ", ".join(v.aliases),
                v.created.isoformat(timespec="minutes"),
                v.data_sha256[:12],
                v.git_commit[:12],
                metrics,
            )
    console.print(table)


@app.command("promote")
@fail_cleanly
def promote_(
    name: Annotated[
        str, typer.Argument(help=f"Registered name or kind: {', '.join(MODEL_NAMES.values())}.")
    ],
    version: Annotated[int, typer.Argument(help="The version number to promote.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to move.")] = CHAMPION,
) -> None:
    """Point an alias (default ``champion``, what the service loads) at a version."""
    promote(name, version, alias)
    typer.echo(f"{MODEL_NAMES.get(name, name)}@{alias} -> version {version}", err=True)
