"""``cac impact``: what a code list is worth, from the command line (the first code is the
principal), as ``POST /v1/impact`` answers it."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.markup import escape

from cac.cli.common import console, fail_cleanly, open_kb
from cac.codesets.records import System
from cac.coding.records import Demographics
from cac.errors import CacError


class ImpactInputError(CacError):
    """A code the knowledge base rejects as not billable or inactive."""


def _checked(system: System, codes: list[str]) -> tuple[str, ...]:
    kb = open_kb()
    out = []
    for code in codes:
        record = kb.lookup(system, code)
        if not (record.billable and record.active):
            raise ImpactInputError(
                f"{record.display} is not a billable, active {system.value} code; "
                f"see cac codes show {system.value} {record.display}"
            )
        out.append(record.display)
    return tuple(out)


@fail_cleanly
def impact(
    codes: Annotated[list[str], typer.Argument(help="ICD-10-CM codes; the first is principal.")],
    pcs: Annotated[
        list[str] | None, typer.Option("--pcs", help="An ICD-10-PCS code (repeat for more).")
    ] = None,
    setting: Annotated[
        str, typer.Option("--setting", help="inpatient (MS-DRG) or outpatient.")
    ] = "inpatient",
    age: Annotated[int | None, typer.Option("--age", min=0, max=124)] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="F or M.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Principal, MS-DRG with CC/MCC per code, CMS-HCC V28/V24 with RAF, and prompts."""
    from cac.impact import ImpactRequest, shared_engine

    if setting not in ("inpatient", "outpatient"):
        raise typer.BadParameter("use inpatient or outpatient", param_hint="--setting")
    if sex is not None and sex.upper() not in ("F", "M"):
        raise typer.BadParameter("use F or M", param_hint="--sex")
    people = None
    if age is not None or sex is not None:
        people = Demographics(
            age=age, sex=None if sex is None else "female" if sex.upper() == "F" else "male"
        )
    chosen: Literal["inpatient", "outpatient"] = (
        "outpatient" if setting == "outpatient" else "inpatient"
    )
    request = ImpactRequest(
        _checked(System.ICD10CM, codes),
        _checked(System.ICD10PCS, pcs or []),
        chosen,
        people,
        principal_fixed=True,
    )
    result = shared_engine().assess(request)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    if result.drg is not None:
        d = result.drg
        flag = f"  (provisional: {d.provisional_reason})" if d.provisional else ""
        console.print(
            f"[bold]MS-DRG {d.code}[/bold] {escape(str(d.title))}  MDC {d.mdc}  "
            f"weight {d.weight}{escape(flag)}"
        )
    for c in result.codes:
        hccs = f"  HCC {', '.join(c.hccs)}" if c.hccs else ""
        excluded = " (excluded by the principal)" if c.cc_excluded else ""
        console.print(f"  {c.role:<10} {c.code:<9} {c.cc_mcc or '-':<4}{excluded}{hccs}")
    h = result.hcc
    raf = f"RAF {h.raf}" if h.raf is not None else f"disease part {h.raf_disease} (no age/sex)"
    console.print(f"[bold]{h.model}[/bold] {', '.join(h.hcc_codes) or 'no HCC'}; {raf}")
    for p in result.prompts:
        console.print(f"[bold]Prompt[/bold] {p.code}: {escape(p.question)}")
        console.print(f"  effect: {escape(p.effect)}")
