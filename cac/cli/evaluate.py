"""``cac eval``: score the pipeline on public benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cac.cli.common import console, fail_cleanly

app = typer.Typer(help="Evaluate the pipeline.", no_args_is_help=True)


@app.command("codiesp")
@fail_cleanly
def codiesp(
    data: Annotated[
        Path | None, typer.Option("--data", help="CodiEsp root (default: vendored copy).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="train, dev or test.")] = "dev",
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write every prediction as TSV.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Code a CodiEsp split and report MAP and shown-list P/R/F1 for D and P."""
    from eval.codiesp import DEFAULT_DIR
    from eval.run import evaluate

    report = evaluate(split, data or DEFAULT_DIR, out)
    if as_json:
        typer.echo(json.dumps(report))
        return
    for label, scores in (
        ("conventions on", report),
        ("conventions off", report["conventions_off"]),
    ):
        for task in ("D", "P"):
            m = scores[task]
            console.print(
                f"{task} ({label}): MAP {m['map']:.3f}  P {m['precision']:.3f}  "
                f"R {m['recall']:.3f}  F1 {m['f1']:.3f}"
            )
    for state, systems in report["coherence"].items():
        for system, checks in systems.items():
            cells = "  ".join(f"{c} {v['share']:.1%}" for c, v in checks.items())
            console.print(f"shown lists, {state.replace('_', ' ')}, {system}: {cells}")
    console.print(f"{report['docs']} docs, {report['seconds_per_doc']:.3f} s/doc")


@app.command("mentions")
@fail_cleanly
def mentions(
    brat: Annotated[
        Path | None, typer.Option("--brat", help="Folder of brat .txt/.ann (default: MACCROBAT).")
    ] = None,
    corpus: Annotated[
        str, typer.Option("--corpus", help="maccrobat, bc5cdr-test or bc5cdr-dev.")
    ] = "maccrobat",
    source: Annotated[
        str, typer.Option("--source", help="combined (the coder), tagger or phrases.")
    ] = "combined",
    all_docs: Annotated[
        bool, typer.Option("--all", help="Score every document, not only cac's dev slice.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score DIAGNOSIS / PROCEDURE mention spans (exact and overlap) against brat or BC5CDR."""
    from cac.pipeline import Coder
    from eval.mentions import corpus_docs, evaluate_docs, labels_of, predictor

    docs = corpus_docs(corpus, brat, all_docs)
    predict = predictor(Coder.load(), source)
    report = evaluate_docs(docs, predict, labels_of(corpus))
    report = {"corpus": corpus, "source": source, **report}
    if as_json:
        typer.echo(json.dumps(report))
        return
    for mode in ("exact", "overlap"):
        for label, m in report[mode].items():
            console.print(
                f"{mode:8} {label:10} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}"
            )


@app.command("guidelines")
@fail_cleanly
def guidelines(
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="Cases file (default: eval/guidelines/cases.yaml)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Code the guideline conformance cases and report pass rates and every failed check.

    Exits 0 when cases fail (it is a report); 1 with ``error:`` on a malformed cases file.
    """
    from cac.pipeline import Coder
    from eval.guidelines import DEFAULT_CASES, evaluate, load_cases

    path = cases or DEFAULT_CASES
    load_cases(path)  # a malformed file fails before the models load
    report = evaluate(Coder.load(), path)
    if as_json:
        typer.echo(json.dumps(report))
        return
    console.print(
        f"guidelines: {report['passed_cases']}/{report['cases']} cases passed "
        f"({report['case_pass_rate']:.1%}), {report['passed_checks']}/{report['checks']} checks "
        f"({report['check_pass_rate']:.1%})",
        markup=False,
        highlight=False,
    )
    for label, m in report["by_chapter"].items():
        console.print(
            f"  {label:28} cases {m['passed_cases']:3}/{m['cases']:<3}  "
            f"checks {m['passed_checks']:3}/{m['checks']:<3}",
            markup=False,
            highlight=False,
        )
    if report["failures"]:
        console.print(f"{len(report['failures'])} failed checks:", markup=False, highlight=False)
    for f in report["failures"]:
        what = f"shown {', '.join(f['matched'])}" if f["kind"] == "unexpected" else "not shown"
        listed = ", ".join(f["shown"]) or "nothing"
        console.print(
            f"  {f['id']} [{f['section']}] {f['kind']} {f['code']}: {what} (shown: {listed})",
            markup=False,
            highlight=False,
        )


@app.command("evidence")
@fail_cleanly
def evidence(
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="Cases file (default: eval/evidence/cases.yaml)."),
    ] = None,
    brat: Annotated[
        Path | None,
        typer.Option("--brat", help="Folder of brat .txt/.ann (default: MACCROBAT dev slice)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score shown codes' evidence: against MACCROBAT entities and the hand-written cases."""
    from eval.evidence import DEFAULT_CASES, evaluate, load_cases

    path = cases or DEFAULT_CASES
    load_cases(path)  # a malformed file fails before the models load
    report = evaluate(cases_path=path, brat_dir=brat)
    if as_json:
        typer.echo(json.dumps(report))
        return
    for line in summary_lines(report):
        console.print(line, markup=False, highlight=False)


def summary_lines(report: dict[str, object]) -> list[str]:
    """The evidence report in a few lines (used by the CLI and ``make eval``)."""
    m: dict[str, dict[str, int | float]] = report["maccrobat"]  # type: ignore[assignment]
    c: dict[str, int | float] = report["cases"]  # type: ignore[assignment]
    lines = []
    for system, s in m.items():
        if isinstance(s, dict):
            lines.append(
                f"MACCROBAT {system}: {s['span_share']:.1%} of {s['spans']} spans on target, "
                f"{s['code_share']:.1%} of {s['shown_codes']} shown codes with one, "
                f"{s['inferred_codes']} inferred; by the code's kind "
                f"{s['span_share_by_kind']:.1%} of spans, {s['code_share_by_kind']:.1%} of codes; "
                f"with History/Family_history entities "
                f"{s['span_share_with_history']:.1%} of spans, "
                f"{s['code_share_with_history']:.1%} of codes"
            )
    lines.append(
        f"cases: {c['found_share']:.1%} of {c['expected_words']} expected words found "
        f"({c['found_share_of_shown_codes']:.1%} of {c['words_of_shown_codes']} for shown codes); "
        f"{c['pointing_elsewhere']} of {c['shown_codes']} shown codes point at another "
        "condition's words"
    )
    return lines
