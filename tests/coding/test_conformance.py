"""Guideline conformance through the real pipeline: the cases marked ``behaviour: true`` in
``eval/guidelines/cases.yaml`` (the full suite is ``cac eval guidelines``).

Each case's note is coded with its setting by ``Coder.load()`` on the real knowledge base; every
``must_show`` code must be in the shown list and no ``must_not_show`` code may be. To mark a case
as a known failure, add its id and a reason to ``KNOWN_FAILING`` (strict xfail).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cac.config import Settings
from cac.pipeline import Coder
from eval.guidelines import DEFAULT_CASES, Case, check_codes, load_cases, score_case

pytestmark = pytest.mark.kb

KNOWN_FAILING: dict[str, str] = {}

BEHAVIOUR = [case for case in load_cases(DEFAULT_CASES) if case.behaviour]


def _params() -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=(
                [pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[case.id])]
                if case.id in KNOWN_FAILING
                else []
            ),
        )
        for case in BEHAVIOUR
    ]


@pytest.fixture(scope="module")
def coder(real_home: Path) -> Coder:
    return Coder.load(Settings(home=real_home).kb_dir)


def test_known_failing_names_behaviour_cases() -> None:
    assert set(KNOWN_FAILING) <= {case.id for case in BEHAVIOUR}


@pytest.mark.parametrize("case", _params())
def test_guideline_case(coder: Coder, case: Case) -> None:
    check_codes([case], coder.kb)
    result = coder.code(case.note, setting=case.setting)
    shown = [(s.system, s.code) for s in result.suggestions if s.shown]
    failures = score_case(case, shown)
    detail = "; ".join(
        f"{f['kind']} {f['code']}" + (f" ({', '.join(f['matched'])})" if "matched" in f else "")
        for f in failures
    )
    assert not failures, f"[{case.section}] {case.why} -> {detail}; shown: {failures[0]['shown']}"
