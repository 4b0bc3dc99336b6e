"""The prompt rules file: validated on load, naming the rule that is wrong."""

from __future__ import annotations

import json

import pytest

from cac.codesets.records import System
from cac.errors import SourceError
from cac.impact.prompts import load_rules, prompt_rules
from cac.kb.store import KnowledgeBase

GOOD = {
    "id": "ckd_stage",
    "codes": "N18.9",
    "axis": "stage",
    "section": "I.C.14.a",
    "question": "Can the stage be further specified, or is it unable to be determined?",
    "allows": ["N18.4"],
}


def test_the_packaged_prompts_load_and_every_question_is_open() -> None:
    rules = prompt_rules()
    assert {r.id for r in rules} >= {
        "heart_failure_type_acuity",
        "respiratory_failure_acuity",
        "malnutrition_severity",
        "anemia_cause",
        "ckd_stage",
        "diabetes_complications",
    }
    for rule in rules:
        assert rule.question.endswith("?")
        assert "unable to be determined" in rule.question, rule.id  # never only one answer
        for word in ("DRG", "HCC", "payment", "reimburse"):
            assert word not in rule.question, rule.id  # no mention of money


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "high"}, "unknown keys ['severity']"),
        ({"codes": "N18"}, None),
        ({"codes": "not a code"}, "bad code"),
        ({"section": "chapter 14"}, "bad guideline section"),
        ({"question": "Document stage 4."}, "must be a question"),
        ({"allows": []}, "non-empty list"),
    ],
)
def test_a_bad_rule_fails_naming_it(change: dict[str, object], message: str | None) -> None:
    text = json.dumps({"prompts": [{**GOOD, **change}]})
    if message is None:
        assert load_rules(text)[0].id == "ckd_stage"
        return
    with pytest.raises(SourceError, match=r"prompts\[0\] \(ckd_stage\)") as caught:
        load_rules(text)
    assert message in str(caught.value)


@pytest.mark.kb
def test_every_code_a_prompt_names_is_a_billable_active_code(real_kb: KnowledgeBase) -> None:
    for rule in prompt_rules():
        for code in {c for codes in rule.allows.values() for c in codes} | set(rule.allows_any):
            record = real_kb.lookup(System.ICD10CM, code)
            assert record.billable and record.active, (rule.id, code)
