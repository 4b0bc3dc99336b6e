"""Coherence figures of shown lists, from the knowledge base alone."""

from __future__ import annotations

import pytest

from cac.codesets.records import System
from cac.kb.store import KnowledgeBase
from eval.coherence import Coherence

pytestmark = pytest.mark.kb


def test_each_check_finds_its_fault_and_only_it(real_kb: KnowledgeBase) -> None:
    check = Coherence(real_kb)
    clean = check.issues(System.ICD10CM, ["E11.22", "N18.31", "I10"])
    assert not any(clean.values())
    assert check.issues(System.ICD10CM, ["E11.65", "E10.65"])["excludes1_pair"]
    assert check.issues(System.ICD10CM, ["I50.9", "I50.22"])["unspecified_beside_specific"]
    assert check.issues(System.ICD10CM, ["M54.5"])["non_billable"]
    assert check.issues(System.ICD10CM, ["N18.4", "N18.5"])["exclusive_axis"]
    assert check.issues(System.ICD10PCS, ["0FT4"])["non_billable"]
    assert not check.issues(System.ICD10PCS, ["0FT44ZZ"])["non_billable"]


def test_report_counts_notes_per_check(real_kb: KnowledgeBase) -> None:
    shown = {System.ICD10CM: {"a": ["N18.4", "N18.5"], "b": ["I10"], "c": []}}
    report = Coherence(real_kb).report(shown, docs=3)
    assert report["icd10cm"]["exclusive_axis"] == {"notes": 1, "share": round(1 / 3, 4)}
    assert report["icd10cm"]["excludes1_pair"]["notes"] == 0
