"""``make eval`` (second step): the guideline conformance suite over the real coder.

Writes ``eval/reports/guidelines.json`` (the full report of :func:`eval.guidelines.evaluate`) and
``eval/reports/guidelines.md`` (pass rates overall and per chapter label, and every failed check).
Run as ``python -m eval.guidelines_report``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.guidelines import DEFAULT_CASES, evaluate

REPORTS = Path(__file__).parent / "reports"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: summary, per-chapter table, failures table."""
    lines = [
        "# Guideline conformance",
        "",
        f"Cases: `{Path(report['cases_file']).name}`, our own notes written from the public-domain "
        "ICD-10-CM Official Guidelines FY2022 (Sections I-IV). A check is one `must_show` or "
        "`must_not_show` code; a case passes when all its checks pass.",
        "",
        f"- cases passed: **{report['passed_cases']}/{report['cases']}** "
        f"({report['case_pass_rate']:.1%})",
        f"- checks passed: **{report['passed_checks']}/{report['checks']}** "
        f"({report['check_pass_rate']:.1%})",
        f"- seconds per case: {report['seconds_per_case']:.3f}",
    ]
    if "model" in report:
        model = ", ".join(f"{k} {v}" for k, v in report["model"].items())
        lines.append(f"- model: {_cell(model)}")
    if "generated_at" in report:
        lines.append(f"- generated: {report['generated_at']}")
    lines += [
        "",
        "## By chapter",
        "",
        "| chapter | cases passed | checks passed | case rate | check rate |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, m in report["by_chapter"].items():
        lines.append(
            f"| {_cell(label)} | {m['passed_cases']}/{m['cases']} | "
            f"{m['passed_checks']}/{m['checks']} | {m['case_pass_rate']:.1%} | "
            f"{m['check_pass_rate']:.1%} |"
        )
    lines += ["", f"## Failed checks ({len(report['failures'])})", ""]
    if report["failures"]:
        lines += [
            "| case | section | kind | code | shown |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in report["failures"]:
            code = f["code"]
            if f["kind"] == "unexpected" and f["matched"] != [code]:
                code = f"{code} ({', '.join(f['matched'])})"
            lines.append(
                f"| {f['id']} | {f['section']} | {f['kind']} | {_cell(code)} | "
                f"{_cell(', '.join(f['shown']) or '-')} |"
            )
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def main(cases: Path = DEFAULT_CASES, out_dir: Path = REPORTS) -> dict[str, Any]:
    report = evaluate(path=cases)
    report["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "guidelines.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out_dir / "guidelines.md").write_text(markdown(report), encoding="utf-8")
    print(
        f"guidelines: {report['passed_cases']}/{report['cases']} cases, "
        f"{report['passed_checks']}/{report['checks']} checks -> {out_dir}/guidelines.{{json,md}}"
    )
    return report


if __name__ == "__main__":
    main()
