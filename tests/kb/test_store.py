"""Reading the knowledge base: code forms, children, unknown codes."""

from __future__ import annotations

import pytest

from cac.codesets.records import System
from cac.errors import KnowledgeBaseError, UnknownCodeError
from cac.kb.store import KnowledgeBase


def test_codes_accepted_with_or_without_dot_in_any_case(mini_kb: KnowledgeBase) -> None:
    for form in ("E11.9", "e119", "E119", " e11.9 "):
        record = mini_kb.get(System.ICD10CM, form)
        assert record is not None and record.display == "E11.9"


def test_children_and_billable_descendants(mini_kb: KnowledgeBase) -> None:
    assert [c.display for c in mini_kb.children(System.ICD10CM, "E11")] == ["E11.6", "E11.9"]
    below = [c.display for c in mini_kb.billable_descendants(System.ICD10CM, "S72")]
    assert below == ["S72.001A", "S72.001D", "S72.001S"]


def test_unknown_code_raises_with_its_name(mini_kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownCodeError, match="E11.99"):
        mini_kb.lookup(System.ICD10CM, "E11.99")


def test_block_ids_are_looked_up_verbatim(mini_kb: KnowledgeBase) -> None:
    record = mini_kb.get(System.ICD10CM, "E08-E13")
    assert record is not None and record.kind == "block"


def test_missing_knowledge_base_says_how_to_build(tmp_path: object) -> None:
    from pathlib import Path

    with pytest.raises(KnowledgeBaseError, match="cac kb build"):
        KnowledgeBase.open(Path(str(tmp_path)) / "kb")
