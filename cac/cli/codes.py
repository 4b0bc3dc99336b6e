"""``cac codes``: look up and search codes in the knowledge base."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cac.cli.common import console, fail_cleanly, open_kb
from cac.codesets.records import CodeRecord, System
from cac.errors import CacError

if TYPE_CHECKING:
    from cac.kb.store import KnowledgeBase

app = typer.Typer(help="Look up and search codes.", no_args_is_help=True)

_NOTES = ("synonyms", "excludes1", "excludes2", "code_first", "use_additional", "code_also")


def _brief(record: CodeRecord, *, notes: bool = False) -> dict[str, Any]:
    brief: dict[str, Any] = {
        "code": record.display,
        "title": record.title,
        "billable": record.billable,
        "active": record.active,
    }
    if notes:
        brief.update({name: list(getattr(record, name)) for name in _NOTES})
    return brief


def code_view(kb: KnowledgeBase, record: CodeRecord) -> dict[str, Any]:
    """Everything a coder wants to see about one code, JSON-ready."""
    parent = kb.get(record.system, record.parent) if record.parent else None
    view: dict[str, Any] = {
        "system": record.system.value,
        "code": record.display,
        "title": record.title,
        "kind": record.kind,
        "billable": record.billable,
        "active": record.active,
        "demo": record.demo,
        # ICD-10-CM notes on a category apply to every code below it, so the parent's travel along.
        "parent": _brief(parent, notes=True) if parent else None,
        "children": [_brief(c) for c in kb.children(record.system, record.code)],
    }
    for name in _NOTES:
        view[name] = list(getattr(record, name))
    if record.axes:
        view["axes"] = dict(record.axes)
    view["attributes"] = dict(record.attributes)
    return view


@app.command("show")
@fail_cleanly
def show(
    system: Annotated[str, typer.Argument(help="icd10cm, icd10pcs, hcpcs or cpt")],
    code: Annotated[str, typer.Argument(help="The code, with or without the ICD dot, any case.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one code: title, billable/active flags, parent, children and notes."""
    parsed = System.parse(system)
    kb = open_kb()
    view = code_view(kb, kb.lookup(parsed, code))
    if as_json:
        typer.echo(json.dumps(view, indent=2, ensure_ascii=False))
        return
    flags = [
        "billable" if view["billable"] else "not billable",
        "active" if view["active"] else "inactive (terminated)",
    ]
    if view["demo"]:
        flags.append("DEMO description (not AMA text)")
    console.print(f"[bold]{escape(view['code'])}[/bold]  {escape(view['title'])}")
    console.print(f"{parsed.value} {view['kind']}: {', '.join(flags)}")
    if view["parent"]:
        console.print(f"parent: {view['parent']['code']}  {view['parent']['title']}")
        for name in _NOTES:
            for note in view["parent"][name]:
                console.print(f"  parent {name}: {note}")
    for name in _NOTES:
        for note in view[name]:
            console.print(f"  {name}: {note}")
    for axis, value in view.get("axes", {}).items():
        console.print(f"  {axis}: {value}")
    if view["children"]:
        console.print(f"children ({len(view['children'])}):")
        for child in view["children"]:
            mark = "" if child["billable"] else " (not billable)"
            console.print(f"  {child['code']}  {child['title']}{mark}")


@app.command("search")
@fail_cleanly
def search(
    text: Annotated[str, typer.Argument(help="Words to search for.")],
    system: Annotated[
        str | None, typer.Option("--system", help="icd10cm, icd10pcs, hcpcs or cpt")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many results.")] = 10,
    billable_only: Annotated[
        bool, typer.Option("--billable-only", help="Only billable, active codes.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search code titles and synonyms (TF-IDF character 3-grams re-scored with rapidfuzz)."""
    from cac.linking.search import CodeSearcher

    parsed = System.parse(system) if system is not None else None
    if limit < 1:
        raise CacError("--limit must be at least 1")
    results = CodeSearcher(open_kb()).search(text, parsed, limit, billable_only=billable_only)
    if as_json:
        payload = []
        for r in results:
            item = asdict(r)
            item["system"] = r.system.value
            item["code"] = r.display
            del item["display"]
            payload.append(item)
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    table = Table()
    for column in ("system", "code", "score", "title", "billable"):
        table.add_column(column)
    for r in results:
        title = escape(f"{r.title} (DEMO description)" if r.demo else r.title)
        table.add_row(
            r.system.value, r.display, f"{r.score:.3f}", title, "yes" if r.billable else "no"
        )
    console.print(table)
