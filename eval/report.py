"""``make eval``: score the pipeline on CodiEsp dev and on mention corpora; write a report.

Writes under ``eval/reports/``: ``codiesp_dev.{md,json}``, the predictions TSV, a confidence
reliability plot, a per-chapter recall plot, and ``mentions.json`` (MACCROBAT dev slice and
BC5CDR test, for the coder's mentions, the tagger alone and the phrase matcher alone), and
``evidence.json`` (shown codes' evidence on the MACCROBAT dev slice and the hand-written cases).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cac.pipeline import Coder
from eval.evidence import evaluate as evaluate_evidence
from eval.mentions import SOURCES, corpus_docs, evaluate_docs, labels_of, predictor
from eval.plots import (
    ece_interval,
    expected_calibration_error,
    plot_chapter_recall,
    plot_reliability,
    recall_by_chapter,
    reliability,
)
from eval.run import run_split

REPORTS = Path(__file__).parent / "reports"
MENTION_CORPORA = ("maccrobat", "bc5cdr-test")


def mention_scores(coder: Coder) -> dict[str, dict[str, Any]]:
    """Overlap and exact scores per corpus and source (the tagger only when trained)."""
    out: dict[str, dict[str, Any]] = {}
    for corpus in MENTION_CORPORA:
        docs = corpus_docs(corpus, None, all_docs=False)
        for source in SOURCES:
            if source == "tagger" and coder.tagger is None:
                continue
            report = evaluate_docs(docs, predictor(coder, source), labels_of(corpus))
            out.setdefault(corpus, {})[source] = report
    return out


COHERENCE_CHECKS = (
    ("excludes1_pair", "an Excludes1 pair"),
    ("unspecified_beside_specific", "an unspecified code beside a specific one of its category"),
    ("non_billable", "a code that is not billable (ICD-10-PCS: not a full 7-character code)"),
    ("exclusive_axis", "two codes of one exclusive axis"),
)


def coherence_lines(report: dict[str, Any]) -> list[str]:
    """The conventions on (the product) against off, and the shown lists' coherence."""
    off = report["conventions_off"]
    lines = [
        "",
        "### Conventions on (the product) and off",
        "",
        "| task | MAP on | MAP off | P / R / F1 shown, on | P / R / F1 shown, off |",
        "| --- | --- | --- | --- | --- |",
    ]
    for task in ("D", "P"):
        on, o = report[task], off[task]
        lines.append(
            f"| {task} | {on['map']:.3f} | {o['map']:.3f} | "
            f"{on['precision']:.3f} / {on['recall']:.3f} / {on['f1']:.3f} | "
            f"{o['precision']:.3f} / {o['recall']:.3f} / {o['f1']:.3f} |"
        )
    lines += [
        "",
        "Share of notes whose shown list holds (from the knowledge base alone, never gold):",
        "",
        "| system | check | conventions on | conventions off |",
        "| --- | --- | --- | --- |",
    ]
    coherence = report["coherence"]
    for system, checks in coherence["conventions_off"].items():
        for check, what in COHERENCE_CHECKS:
            if check not in checks:
                continue
            a = coherence["conventions_on"][system][check]
            b = checks[check]
            lines.append(
                f"| {system} | {what} | {a['share']:.1%} ({a['notes']}) | "
                f"{b['share']:.1%} ({b['notes']}) |"
            )
    return lines


def evidence_lines(report: dict[str, Any]) -> list[str]:
    """The evidence section: MACCROBAT entities of the right kind, and the hand-written cases."""
    lines = [
        "",
        f"## Evidence of the shown codes, MACCROBAT dev slice ({report['maccrobat']['docs']} docs)",
        "",
        "| system | evidence spans | on an entity of the right kind | shown codes "
        "| with such a span | inferred (no span) | spans, by kind | codes, by kind "
        "| spans, History counted | codes, History counted |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for system, m in report["maccrobat"].items():
        if isinstance(m, dict):
            lines.append(
                f"| {system} | {m['spans']} | {m['span_share']:.1%} | {m['shown_codes']} "
                f"| {m['code_share']:.1%} | {m['inferred_codes']} "
                f"| {m['span_share_by_kind']:.1%} | {m['code_share_by_kind']:.1%} "
                f"| {m['span_share_with_history']:.1%} | {m['code_share_with_history']:.1%} |"
            )
    c = report["cases"]
    lines += [
        "",
        "Right kind: Disease_disorder or Sign_symptom for ICD-10-CM, Diagnostic_procedure or",
        'Therapeutic_procedure for procedure codes (`cac eval evidence`). "By kind": a family',
        "history code (Z80-Z84) may also point at a Family_history entity, a personal history",
        'code (Z85-Z87, Z92) at a History one, a BMI code (Z68) at a Lab_value. "History counted":',
        "MACCROBAT's History and Family_history entities also count for ICD-10-CM codes (the",
        'corpus labels a past or a relative\'s condition so: "20-year history of hypertension").',
        "",
        f"## Evidence, hand-written cases ({c['cases']} notes, `eval/evidence/cases.yaml`)",
        "",
        f"- expected words found: {c['found']} of {c['expected_words']} "
        f"({c['found_share']:.1%}); of the codes shown: {c['found_of_shown_codes']} of "
        f"{c['words_of_shown_codes']} ({c['found_share_of_shown_codes']:.1%})",
        f"- shown codes pointing at another condition's words: {c['pointing_elsewhere']} of "
        f"{c['shown_codes']} ({c['pointing_elsewhere_share']:.1%})",
    ]
    return lines


def main() -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    coder = Coder.load()
    report, predictions, gold = run_split(
        "dev", out=REPORTS / "codiesp_dev_predictions.tsv", coder=coder
    )
    shown = [p for p in predictions if p.shown]
    curves = {}
    for task, task_gold in (("D", gold.gold_d), ("P", gold.gold_p)):
        curves[task] = reliability(predictions, task_gold, task)
        curves[f"{task}, shown only"] = reliability(shown, task_gold, task)
        report[task]["ece"] = round(expected_calibration_error(curves[task]), 4)
        report[task]["ece_shown"] = round(
            expected_calibration_error(curves[f"{task}, shown only"]), 4
        )
        low, high = ece_interval(shown, task_gold, task)
        report[task]["ece_shown_90"] = [round(low, 4), round(high, 4)]
    plot_reliability(curves, REPORTS / "reliability_dev.png")
    chapters = recall_by_chapter(predictions, gold.gold_d)
    plot_chapter_recall(chapters, REPORTS / "chapter_recall_dev.png")
    report["model"] = coder.model_info
    (REPORTS / "codiesp_dev.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    mentions = mention_scores(coder)
    (REPORTS / "mentions.json").write_text(json.dumps(mentions, indent=2) + "\n", encoding="utf-8")
    evidence = evaluate_evidence(coder)
    (REPORTS / "evidence.json").write_text(json.dumps(evidence, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Evaluation report, `make eval`",
        "",
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')}; model "
        + ", ".join(f"{k} `{v}`" for k, v in coder.model_info.items())
        + ".",
        "",
        f"## CodiEsp dev (English), {report['docs']} documents",
        "",
        f"{report['seconds_per_doc']} s per document (mean, whole pipeline, one process).",
        "",
        "| task | MAP | precision (shown) | recall (shown) | F1 (shown) | ECE (all ranked) "
        "| ECE (shown) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for task in ("D", "P"):
        m = report[task]
        cells = [m["map"], m["precision"], m["recall"], m["f1"], m["ece"]]
        low, high = m["ece_shown_90"]
        lines.append(
            f"| {task} | "
            + " | ".join(f"{v:.3f}" for v in cells)
            + f" | {m['ece_shown']:.3f} ({low:.3f}-{high:.3f}) |"
        )
    lines += coherence_lines(report)
    lines += [
        "",
        "MAP over each document's full ranked list, codes mapped to CodiEsp conventions by",
        "`eval/crosswalk.py` (learned from train only); P/R/F1 over the suggestions shown",
        "to a coder. Confidence is the ranker's calibrated probability when `ranker` above",
        "names one, else the uncalibrated best support (see the reliability plot). ECE is",
        "over 10 equal-width confidence bins, for the whole ranked list and for the shown",
        "suggestions alone; in brackets the 5th-95th percentile of the shown-list ECE over",
        "1,000 resamplings of the documents, i.e. how much of it is sampling noise.",
        "",
        "![reliability](reliability_dev.png) ![recall per chapter](chapter_recall_dev.png)",
        "",
        "## Mentions (overlap / exact F1)",
        "",
        "| corpus | label | source | overlap P | overlap R | overlap F1 | exact F1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for corpus, by_source in mentions.items():
        for source, scores in by_source.items():
            for label, m in scores["overlap"].items():
                exact = scores["exact"][label]["f1"]
                lines.append(
                    f"| {corpus} ({scores['docs']} docs) | {label} | {source} | "
                    f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {exact:.3f} |"
                )
    lines += [
        "",
        "MACCROBAT: cac's dev slice (every 5th document), never trained on. BC5CDR: the test",
        "set, disease mentions only (DIAGNOSIS); the tagger trains on BC5CDR train + dev.",
    ]
    lines += evidence_lines(evidence)
    (REPORTS / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
