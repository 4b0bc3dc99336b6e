"""``cac kb``: build and describe the code knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cac.cli.common import console, err_console, fail_cleanly, open_kb
from cac.config import get_settings

if TYPE_CHECKING:
    from cac.kb.manifest import Manifest

app = typer.Typer(help="Build and inspect the code knowledge base.", no_args_is_help=True)


def _progress(*, counts: bool = False) -> Progress:
    """The build progress display, on stderr; ``counts`` adds done/total after the bar."""
    columns: list[ProgressColumn] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), console=err_console)


def _systems_table(title: str, figures: tuple[str, ...]) -> Table:
    """A table of one row per code system: its name left, then ``figures`` right-aligned."""
    table = Table(title=title)
    table.add_column("system", justify="left")
    for column in figures:
        table.add_column(column, justify="right")
    return table


def _counts_table(manifest: Manifest) -> Table:
    table = _systems_table(
        f"knowledge base {manifest.content_hash[:12]}",
        ("records", "billable", "active", "inactive", "demo", "aliases"),
    )
    for name, info in manifest.systems.items():
        table.add_row(
            name,
            f"{info.records:,}",
            f"{info.billable:,}",
            f"{info.active:,}",
            f"{info.inactive:,}",
            f"{info.demo:,}",
            f"{info.aliases_indexed:,}",
        )
    return table


@app.command("build")
@fail_cleanly
def build(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if inputs are unchanged.")
    ] = False,
    hcpcs_file: Annotated[
        Path | None,
        typer.Option("--hcpcs-file", help="A CMS alpha-numeric HCPCS file (else CAC_HCPCS_FILE)."),
    ] = None,
    cpt_file: Annotated[
        Path | None,
        typer.Option("--cpt-file", help="A licensed CPT code/descriptor file (else CAC_CPT_FILE)."),
    ] = None,
) -> None:
    """Compile ICD-10-CM, ICD-10-PCS, HCPCS and CPT into one artifact under CAC_HOME."""
    from cac.kb.build import build as build_kb

    overrides = {"hcpcs_file": hcpcs_file, "cpt_file": cpt_file}
    settings = get_settings().model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    with _progress() as progress:
        result = build_kb(settings, force=force, progress=progress)
    if result.skipped:
        console.print(
            f"knowledge base at {result.path} is up to date "
            f"(inputs unchanged, content {result.manifest.content_hash[:12]}); nothing to do"
        )
    else:
        console.print(f"built knowledge base at {result.path} in {result.manifest.build_seconds} s")
    _print_manifest(result.manifest)


def _print_manifest(manifest: Manifest) -> None:
    console.print(_counts_table(manifest))
    for name, info in manifest.systems.items():
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in info.by_kind.items())
        console.print(f"{name}: {kinds}", highlight=False)
        console.print(f"  source: {info.source}; {info.version}", highlight=False)


@app.command("build-dense")
@fail_cleanly
def build_dense(
    force: Annotated[
        bool, typer.Option("--force", help="Re-embed every name, even if the index is current.")
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Bi-encoder folder (default: the committed models/biencoder)."
        ),
    ] = None,
    system: Annotated[
        list[str] | None,
        typer.Option("--system", help="Only this system (repeatable); default: all."),
    ] = None,
) -> None:
    """Embed the code names of the knowledge base with the bi-encoder, for dense retrieval.

    Skips systems whose index is current (same encoder and knowledge base); names embedded by the
    same encoder before are reused. ``DenseRetriever.load`` also builds a missing index.
    """
    from cac.codesets.records import System
    from cac.linking.dense import DEFAULT_MODEL_DIR, DenseEncoder, DenseRetriever

    kb = open_kb()
    systems = [System.parse(s) for s in system] if system else kb.systems
    retriever = DenseRetriever(kb, DenseEncoder(model or DEFAULT_MODEL_DIR))
    with _progress(counts=True) as progress:
        built = retriever.ensure(systems, force=force, progress=progress)
    if not built:
        console.print(f"dense index at {retriever.paths.root} is up to date; nothing to do")
        return
    table = _systems_table(
        f"dense index ({retriever.encoder.version})",
        ("rows", "codes", "encoded", "reused", "seconds"),
    )
    for done, entry in built.items():
        table.add_row(
            done.value,
            f"{entry.rows:,}",
            f"{entry.codes:,}",
            f"{entry.names_encoded:,}",
            f"{entry.names_reused:,}",
            f"{entry.build_seconds}",
        )
    console.print(table)


@app.command("info")
@fail_cleanly
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Show the manifest of the built knowledge base."""
    kb = open_kb()
    if as_json:
        typer.echo(kb.manifest.model_dump_json(indent=2))
        return
    _print_manifest(kb.manifest)
