"""The impact stage: what a list of codes is worth, from the packages' grouper and model.

:class:`ImpactEngine` loads the MS-DRG grouper, the code editor, both CMS-HCC models and the
rule files once (at service start-up, or once per CLI call), then answers each
:class:`~cac.impact.records.ImpactRequest` in about a millisecond: principal selection
(:mod:`cac.impact.principal`), the MS-DRG and each code's CC/MCC (:mod:`cac.impact.drg`,
inpatient only: outpatient visits are not paid by DRG), CMS-HCC V28 and V24 with RAF
(:mod:`cac.impact.hcc`) and the documentation prompts with their measured effect
(:mod:`cac.impact.prompts`).
"""

from __future__ import annotations

import atexit
import logging
from functools import cache, lru_cache

from cac.coding.records import Demographics
from cac.impact import principal as principal_rules
from cac.impact import prompts as prompt_rules
from cac.impact.drg import DrgGrouper, bare
from cac.impact.hcc import V24, V28, HccScorer
from cac.impact.records import CodeImpact, DrgResult, Impact, ImpactRequest, Prompt

logger = logging.getLogger(__name__)


class ImpactEngine:
    """The grouper, the code editor and the HCC models, loaded once and shared."""

    def __init__(self) -> None:
        self.grouper = DrgGrouper()
        self.v28 = HccScorer(V28)
        self.v24 = HccScorer(V24)
        principal_rules.principal_rules()
        prompt_rules.prompt_rules()
        self._barred = lru_cache(maxsize=4096)(self.grouper.pdx_edits)
        self._code_hccs = lru_cache(maxsize=4096)(self._hccs_of)

    def close(self) -> None:
        self.grouper.close()

    def assess(self, request: ImpactRequest) -> Impact:
        """What ``request``'s codes are worth. Codes must be valid, billable and in display form
        (the API and the CLI check them against the knowledge base first)."""
        diagnoses = tuple(dict.fromkeys(request.diagnoses))
        procedures = tuple(dict.fromkeys(request.procedures))
        demographics = request.demographics
        principal = principal_rules.choose(
            diagnoses,
            request.setting,
            lambda code: self._barred(code, demographics),
            fixed=request.principal_fixed,
            fixed_reason=request.principal_reason,
        )
        if principal is not None:
            diagnoses = (principal.code, *(c for c in diagnoses if c != principal.code))
        hcc, v28_map = self.v28.score(diagnoses, demographics)
        hcc_v24, _ = self.v24.score(diagnoses, demographics)
        drg: DrgResult | None = None
        parts: dict[str, CodeImpact] = {}
        if request.setting == "inpatient" and diagnoses:
            grouping = self.grouper.group(diagnoses[0], diagnoses[1:], procedures, demographics)
            drg = grouping.drg
            parts = {p.code: p for p in grouping.codes}
        codes = []
        for index, code in enumerate(diagnoses):
            part = parts.get(code) or parts.get(bare(code))
            codes.append(
                CodeImpact(
                    code=code,
                    system="icd10cm",
                    role="principal" if index == 0 else "secondary",
                    cc_mcc=part.cc_mcc if part else None,
                    cc_excluded=part.cc_excluded if part else False,
                    drg_impact=part.drg_impact if part else False,
                    hccs=v28_map.get(bare(code), ()),
                )
            )
        for code in procedures:
            part = parts.get(bare(code))
            codes.append(
                CodeImpact(
                    code=code,
                    system="icd10pcs",
                    role="procedure",
                    drg_impact=part.drg_impact if part else False,
                )
            )
        prompts = self._prompts(
            diagnoses, procedures, request.setting, demographics, frozenset(hcc.hcc_codes)
        )
        return Impact(request.setting, principal, drg, tuple(codes), hcc, hcc_v24, prompts)

    def _hccs_of(self, code: str, demographics: Demographics | None) -> tuple[str, ...]:
        """The V28 HCCs one code maps to, before hierarchies (cached: a code maps the same
        way for the same patient)."""
        _, mapped = self.v28.score((code,), demographics)
        return mapped.get(bare(code), ())

    def _prompts(
        self,
        diagnoses: tuple[str, ...],
        procedures: tuple[str, ...],
        setting: str,
        demographics: Demographics | None,
        present: frozenset[str],
    ) -> tuple[Prompt, ...]:
        def measure(listed: tuple[str, ...], code: str) -> prompt_rules.Outcome:
            hccs = self._code_hccs(code, demographics)
            if setting != "inpatient":
                return prompt_rules.Outcome(None, None, None, hccs)
            grouping = self.grouper.group(listed[0], listed[1:], procedures, demographics)
            part = next((p for p in grouping.codes if p.code == bare(code)), None)
            cc_mcc = part.cc_mcc if part is not None and part.role == "secondary" else None
            return prompt_rules.Outcome(cc_mcc, grouping.drg.code, grouping.drg.weight, hccs)

        return prompt_rules.prompts_for(diagnoses, measure, present)


@cache
def shared_engine() -> ImpactEngine:
    """The process's engine: loaded on first use (the service calls this at start-up), closed
    at exit so the grouper's native handles are freed before the interpreter tears down."""
    engine = ImpactEngine()
    atexit.register(engine.close)
    return engine
