"""``cac models``: list the registered model versions, evaluate them, move their aliases.

Moving ``champion`` (what the service loads) goes through the evaluation gates
(``cac.feedback.gates``); other aliases move as asked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cac.cli.common import console, fail_cleanly
from cac.registry import CHAMPION, MODEL_NAMES, RegisteredModelInfo, list_models, promote

app = typer.Typer(
    help="List the registered models, evaluate and promote versions (MLflow registry).",
    no_args_is_help=True,
)

# Shown in ``list``: the gated figures, MAP (all of them are in ``--json``).
_LISTED_FIGURES = {"dev.D.map": "dev D", "dev.P.map": "dev P", "audited.all.map": "audited"}
_COUNTS = (".notes", ".without_text", ".without_codes")  # figures that are counts of notes

NameArg = Annotated[
    str, typer.Argument(help=f"Registered name or kind: {', '.join(MODEL_NAMES.values())}.")
]
AuditedOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--audited",
        metavar="FILE",
        help="A decisions export (cac export decisions --include-text); repeat for several. "
        "Only its hold-out notes are scored.",
        exists=True,
        dir_okay=False,
    ),
]
DevDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dev-dir",
        help="CodiEsp folder of the dev set (default: the vendored corpus).",
        file_okay=False,
    ),
]


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
                "evaluation": v.evaluation,
                "eval_set_sha256": v.eval_set_sha256,
            }
            for v in model.versions
        ],
    }


def _headline(metrics: dict[str, float]) -> dict[str, float]:
    """The figures a table row has room for: MAPs where a version has them, else up to three;
    ``--json`` gives them all."""
    maps = {k: v for k, v in metrics.items() if k.endswith(".map")}
    return maps or dict(sorted(metrics.items())[:3])


@app.command("list")
@fail_cleanly
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List cac's registered models: versions, aliases, dates, data hash, commit, key metrics
    (all metrics with ``--json``)."""
    models = list_models()
    if as_json:
        typer.echo(json.dumps([_as_json(m) for m in models], indent=2))
        return
    if not models:
        typer.echo("no registered models; the service uses the files in models/", err=True)
        return
    table = Table()
    # Short columns never wrap; the figures fold in a narrow terminal.
    for column in ("model", "version", "aliases", "created", "data", "commit"):
        table.add_column(column, no_wrap=True)
    for column in ("metrics", "evaluation"):
        table.add_column(column, overflow="fold")
    for model in models:
        for v in model.versions:
            metrics = ", ".join(
                f"{k} {value:.3f}" for k, value in sorted(_headline(v.metrics).items())
            )
            figures = ", ".join(
                f"{label} {v.evaluation[key]:.3f}"
                for key, label in _LISTED_FIGURES.items()
                if key in v.evaluation
            )
            if figures:
                figures += f" (set {v.eval_set_sha256[:8]})"
            table.add_row(
                model.name,
                str(v.version),
                ", ".join(v.aliases),
                v.created.strftime("%Y-%m-%d"),
                v.data_sha256[:8],
                v.git_commit[:8],
                metrics,
                figures,
            )
    # Piped or redirected output is not bound to an 80-column terminal.
    (console if console.is_terminal else Console(width=200)).print(table)


@app.command("evaluate")
@fail_cleanly
def evaluate(
    name: NameArg,
    version: Annotated[int, typer.Option("--version", help="The version to score.")],
    audited: AuditedOpt = None,
    dev: Annotated[
        bool, typer.Option("--dev/--no-dev", help="Score CodiEsp dev (about 1.5 min).")
    ] = True,
    dev_dir: DevDirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score a version on CodiEsp dev and the audited hold-out; log it to MLflow and tag it."""
    from cac.feedback.gates import default_dev_dir, evaluate_version

    result = evaluate_version(
        name,
        version,
        dev_dir=(dev_dir or default_dev_dir()) if dev else None,
        audited_paths=audited or [],
    )
    if as_json:
        payload = {
            "name": result.name,
            "version": result.version,
            "figures": result.figures,
            "eval_set_sha256": result.eval_set_sha256,
            "context": result.context,
            "run_id": result.run_id,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table(title=f"{result.name} v{result.version}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in sorted(result.figures.items()):
        table.add_row(key, f"{value:.0f}" if key.endswith(_COUNTS) else f"{value:.4f}")
    console.print(table)
    typer.echo(
        f"eval set {result.eval_set_sha256[:12]} ({result.context}); MLflow run {result.run_id}",
        err=True,
    )


@app.command("promote")
@fail_cleanly
def promote_(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="The version number to promote.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to move.")] = CHAMPION,
    audited: AuditedOpt = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            "--tolerance", help="Absolute MAP the candidate may lose on CodiEsp dev (0.01).", min=0
        ),
    ] = None,
    allow_no_audited: Annotated[
        bool,
        typer.Option(
            "--allow-no-audited",
            help="Without an audited hold-out, gate on CodiEsp dev alone (else it fails).",
        ),
    ] = False,
    dev_dir: DevDirOpt = None,
    skip_gates: Annotated[
        bool, typer.Option("--skip-gates", help="Move champion without gates (needs --reason).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why the gates are skipped (recorded).")
    ] = None,
) -> None:
    """Point an alias at a version. ``champion`` (what the service loads) moves only if the
    version passes the evaluation gates against the current champion: no CodiEsp dev MAP drop
    beyond the tolerance and a better audited hold-out MAP. Other aliases move as asked."""
    from cac.feedback.gates import DEV_TOLERANCE, promote_skipping_gates, promote_with_gates

    registered = MODEL_NAMES.get(name, name)
    if alias != CHAMPION:
        promote(name, version, alias)
        typer.echo(f"{registered}@{alias} -> version {version}", err=True)
        return
    if skip_gates:
        done = promote_skipping_gates(name, version, reason=reason or "")
        typer.echo(f"{done.name}@{CHAMPION} -> version {version} (gates skipped)", err=True)
        return
    if reason is not None:
        raise typer.BadParameter("--reason goes with --skip-gates", param_hint="--reason")
    outcome = promote_with_gates(
        name,
        version,
        audited_paths=audited or [],
        dev_dir=dev_dir,
        tolerance=DEV_TOLERANCE if tolerance is None else tolerance,
        require_audited=not allow_no_audited,
    )
    lines = outcome.result.notes if outcome.result.passed else outcome.result.reasons
    if not outcome.result.passed:
        stays = "none" if outcome.previous is None else f"version {outcome.previous}"
        typer.echo(
            f"gates failed: {outcome.name}@{CHAMPION} stays on {stays} "
            f"(MLflow run {outcome.run_id})",
            err=True,
        )
        for line in lines:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1)
    if outcome.moved:
        typer.echo(f"{outcome.name}@{CHAMPION} -> version {version} (gates passed)", err=True)
    for line in lines:
        typer.echo(f"  {line}", err=True)
