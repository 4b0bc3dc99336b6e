"""The real knowledge base's per-system counts, within tolerance of the CMS figures."""

from __future__ import annotations

import pytest

from cac.kb.store import KnowledgeBase

pytestmark = pytest.mark.kb


def test_counts_match_the_sources(real_kb: KnowledgeBase) -> None:
    systems = real_kb.manifest.systems
    assert 74_500 <= systems["icd10cm"].billable <= 74_900
    assert systems["icd10pcs"].by_kind["code"] >= 78_000
    assert systems["hcpcs"].by_kind["code"] == 6_710
    assert systems["hcpcs"].by_kind["modifier"] == 369
    assert systems["hcpcs"].inactive > 0
    cpt = systems["cpt"]
    assert cpt.by_kind["code"] >= 100 and cpt.demo == cpt.records
