"""Candidate search: mini KB for behaviour, the real KB for the must-show rankings."""

from __future__ import annotations

import pytest

from cac.codesets.records import System
from cac.errors import CacError
from cac.kb.store import KnowledgeBase
from cac.linking.search import CodeSearcher


def test_best_title_match_ranks_first(mini_kb: KnowledgeBase) -> None:
    hits = CodeSearcher(mini_kb).search("type 2 diabetes without complications", System.ICD10CM)
    assert hits[0].display == "E11.9"
    assert hits[0].score > hits[1].score


def test_inactive_codes_are_never_returned(mini_kb: KnowledgeBase) -> None:
    hits = CodeSearcher(mini_kb).search("forearm crutch", System.HCPCS)
    assert [h.code for h in hits] == ["E0110"]


def test_inclusion_terms_are_searchable(mini_kb: KnowledgeBase) -> None:
    hits = CodeSearcher(mini_kb).search("fracture of hip", System.ICD10CM, 3)
    assert hits[0].code == "S7200"


def test_billable_only_and_all_systems(mini_kb: KnowledgeBase) -> None:
    hits = CodeSearcher(mini_kb).search("fracture of femur", limit=20, billable_only=True)
    assert hits and all(h.billable for h in hits)
    assert {h.system for h in CodeSearcher(mini_kb).search("crutches", limit=20)} >= {System.HCPCS}


def test_empty_query_is_an_error(mini_kb: KnowledgeBase) -> None:
    with pytest.raises(CacError, match="empty"):
        CodeSearcher(mini_kb).search("   ")


@pytest.mark.kb
def test_real_kb_diabetes_ranks_e119_first(real_kb: KnowledgeBase) -> None:
    hits = CodeSearcher(real_kb).search("type 2 diabetes without complications", System.ICD10CM)
    assert hits[0].display == "E11.9"


@pytest.mark.kb
def test_real_kb_lap_chole_in_top_five(real_kb: KnowledgeBase) -> None:
    hits = CodeSearcher(real_kb).search("laparoscopic cholecystectomy", System.ICD10PCS, 5)
    assert "0FT44ZZ" in [h.code for h in hits]
