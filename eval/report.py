"""``make eval``: score the pipeline on CodiEsp dev and write a Markdown report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from eval.run import evaluate

REPORTS = Path(__file__).parent / "reports"


def main() -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = evaluate("dev", out=REPORTS / "codiesp_dev_predictions.tsv")
    (REPORTS / "codiesp_dev.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# CodiEsp dev (English), `make eval`",
        "",
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')}, {report['docs']} documents, "
        f"{report['seconds_per_doc']} s per document (mean).",
        "",
        "| task | MAP | precision (shown) | recall (shown) | F1 (shown) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for task in ("D", "P"):
        m = report[task]
        cells = [m["map"], m["precision"], m["recall"], m["f1"]]
        lines.append(f"| {task} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    lines += [
        "",
        "MAP over each document's full ranked list, codes mapped to CodiEsp conventions by",
        "`eval/crosswalk.py` (learned from train only); P/R/F1 over the suggestions shown",
        "to a coder.",
    ]
    (REPORTS / "codiesp_dev.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
