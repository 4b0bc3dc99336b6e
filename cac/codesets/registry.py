"""Which loader feeds which system, given the settings (user-supplied files win over defaults)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cac.codesets import cpt, hcpcs, icd10cm, icd10pcs
from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.config import Settings


@dataclass(frozen=True)
class CodeSetSource:
    """One system's loader and provenance, bound to the configured input files."""

    system: System
    load: Callable[[], Iterator[CodeRecord]]
    info: Callable[[], SourceInfo]


def sources(settings: Settings) -> list[CodeSetSource]:
    """The four code sets in build order."""
    return [
        CodeSetSource(System.ICD10CM, lambda: icd10cm.load(), lambda: icd10cm.source_info()),
        CodeSetSource(System.ICD10PCS, lambda: icd10pcs.load(), lambda: icd10pcs.source_info()),
        CodeSetSource(
            System.HCPCS,
            lambda: hcpcs.load(settings.hcpcs_file),
            lambda: hcpcs.source_info(settings.hcpcs_file),
        ),
        CodeSetSource(
            System.CPT,
            lambda: cpt.load(settings.cpt_file),
            lambda: cpt.source_info(settings.cpt_file),
        ),
    ]
