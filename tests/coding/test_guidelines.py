"""Guideline rule tables: family and personal history codes."""

from __future__ import annotations

import pytest

from cac.codesets.records import System
from cac.coding.guidelines import (
    family_history_code,
    family_rules,
    history_rules,
    personal_history_code,
)
from cac.kb.store import KnowledgeBase


@pytest.mark.parametrize(
    ("disease", "family"),
    [
        ("C50.919", "Z803"),
        ("C34.90", "Z801"),
        ("E11.9", "Z833"),
        ("I63.9", "Z823"),
        ("J45.909", "Z825"),
    ],
)
def test_family_history_codes(disease: str, family: str) -> None:
    assert family_history_code(disease) == family


def test_symptoms_have_no_family_history_code() -> None:
    assert family_history_code("R51.9") is None


@pytest.mark.parametrize(
    ("past", "history"),
    [("C50.919", "Z853"), ("N20.0", "Z87442"), ("I21.9", "I252"), ("J18.9", "Z8701")],
)
def test_resolved_conditions_get_history_codes(past: str, history: str) -> None:
    assert personal_history_code(past) == history


def test_chronic_conditions_keep_their_code() -> None:
    assert personal_history_code("I10") is None
    assert personal_history_code("E11.9") is None


@pytest.mark.kb
def test_every_rule_target_is_a_billable_code(real_kb: KnowledgeBase) -> None:
    for rule in (*family_rules(), *history_rules()):
        record = real_kb.get(System.ICD10CM, rule.code)
        assert record is not None and record.billable, rule
