"""The typed hand-offs of the impact stage: the question (codes, setting, demographics) and the
answer (principal, MS-DRG with CC/MCC per code, CMS-HCC with RAF, documentation prompts).

Codes are carried as the knowledge base displays them (``J96.01``); the grouper packages take
them without the dot, which :mod:`cac.impact.drg` and :mod:`cac.impact.hcc` handle. Nothing here
holds note text, so every record may be logged and audited as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cac.coding.records import Demographics

Setting = Literal["inpatient", "outpatient"]
CcMcc = Literal["MCC", "CC"]


@dataclass(frozen=True, slots=True)
class ImpactRequest:
    """What a code list is worth is asked about: ICD-10-CM codes in sequence, ICD-10-PCS codes,
    the setting and what is known of the patient.

    ``principal_fixed`` says the first code is the principal by decision (a coder's, or the CLI's
    "first is principal") rather than one for :mod:`cac.impact.principal` to choose.
    """

    diagnoses: tuple[str, ...]
    procedures: tuple[str, ...] = ()
    setting: Setting = "inpatient"
    demographics: Demographics | None = None
    principal_fixed: bool = False
    principal_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The principal (inpatient) or first-listed (outpatient) diagnosis and why."""

    code: str
    rule: str
    section: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "rule": self.rule,
            "section": self.section,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class DrgResult:
    """One grouping: the final MS-DRG as the grouper sets it, and the CMS relative weight.

    ``provisional`` is True when age or sex was not given (the grouper then ran with the
    stand-ins that ``provisional_reason`` names) or when the grouper could not group.
    """

    code: str | None
    title: str | None
    mdc: str | None
    mdc_title: str | None
    weight: float | None
    severity: str | None
    version: str
    provisional: bool
    provisional_reason: str | None = None
    return_code: str = "OK"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "mdc": self.mdc,
            "mdc_title": self.mdc_title,
            "weight": self.weight,
            "severity": self.severity,
            "version": self.version,
            "provisional": self.provisional,
            "provisional_reason": self.provisional_reason,
            "return_code": self.return_code,
        }


@dataclass(frozen=True, slots=True)
class CodeImpact:
    """One code's part: the role it plays, its CC/MCC status after the principal's CC
    exclusions (``cc_excluded`` says a CC/MCC lost its status so), and the HCCs it maps to
    before hierarchies."""

    code: str
    system: Literal["icd10cm", "icd10pcs"]
    role: Literal["principal", "secondary", "procedure"]
    cc_mcc: CcMcc | None = None
    cc_excluded: bool = False
    drg_impact: bool = False
    hccs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "system": self.system,
            "role": self.role,
            "cc_mcc": self.cc_mcc,
            "cc_excluded": self.cc_excluded,
            "drg_impact": self.drg_impact,
            "hccs": list(self.hccs),
        }


@dataclass(frozen=True, slots=True)
class HccEntry:
    """An HCC left after hierarchies, its label, and its RAF coefficient in the segment used."""

    hcc: str
    label: str
    coefficient: float
    codes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "hcc": self.hcc,
            "label": self.label,
            "coefficient": self.coefficient,
            "codes": list(self.codes),
        }


@dataclass(frozen=True, slots=True)
class HccResult:
    """A CMS-HCC model's answer. ``raf`` is the full score when age and sex were given, else
    None with ``raf_disease`` (HCCs and their interactions) alone."""

    model: str
    hccs: tuple[HccEntry, ...]
    raf: float | None
    raf_disease: float
    raf_demographic: float | None
    segment: str
    dropped_by_hierarchy: tuple[str, ...] = ()

    @property
    def hcc_codes(self) -> tuple[str, ...]:
        return tuple(e.hcc for e in self.hccs)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hccs": [e.to_json() for e in self.hccs],
            "raf": self.raf,
            "raf_disease": self.raf_disease,
            "raf_demographic": self.raf_demographic,
            "segment": self.segment,
            "dropped_by_hierarchy": list(self.dropped_by_hierarchy),
        }


@dataclass(frozen=True, slots=True)
class PromptEffect:
    """What one code the prompt's axis would allow does, measured by regrouping and rescoring
    with it in place of the vague code."""

    code: str
    cc_mcc: CcMcc | None
    drg: str | None
    weight: float | None
    hccs: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "cc_mcc": self.cc_mcc,
            "drg": self.drg,
            "weight": self.weight,
            "hccs": list(self.hccs),
        }


@dataclass(frozen=True, slots=True)
class Prompt:
    """A documentation-improvement question: never changes a code by itself."""

    id: str
    code: str
    axis: str
    question: str
    allows: tuple[PromptEffect, ...]
    effect: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "axis": self.axis,
            "question": self.question,
            "allows": [a.to_json() for a in self.allows],
            "effect": self.effect,
        }


@dataclass(frozen=True, slots=True)
class Impact:
    """Everything a code list is worth, for the API, the CLI, exports and the audit log."""

    setting: Setting
    principal: Principal | None
    drg: DrgResult | None
    codes: tuple[CodeImpact, ...]
    hcc: HccResult
    hcc_v24: HccResult
    prompts: tuple[Prompt, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "principal": self.principal.to_json() if self.principal else None,
            "drg": self.drg.to_json() if self.drg else None,
            "codes": [c.to_json() for c in self.codes],
            "hcc": self.hcc.to_json(),
            "hcc_v24": self.hcc_v24.to_json(),
            "prompts": [p.to_json() for p in self.prompts],
        }

    def summary(self) -> dict[str, Any]:
        """The figures the audit log keeps before and after a decision: no text, few bytes."""
        return {
            "principal": self.principal.code if self.principal else None,
            "drg": self.drg.code if self.drg else None,
            "weight": self.drg.weight if self.drg else None,
            "hccs": list(self.hcc.hcc_codes),
            "raf": self.hcc.raf if self.hcc.raf is not None else self.hcc.raf_disease,
        }
