"""The evaluation crosswalk from product codes to CodiEsp conventions."""

from __future__ import annotations

import pytest

from cac.kb.store import KnowledgeBase
from eval.crosswalk import Crosswalk

pytestmark = pytest.mark.kb

TRAIN = ["r51", "m54.5", "w19.xxx", "t81.4xx", "s22.49xa", "s22.49xa", "s72.001"]


@pytest.mark.parametrize(
    ("product", "benchmark"),
    [
        ("R51.9", "r51"),  # expanded since FY2018: parent used as a code in train
        ("M54.50", "m54.5"),
        ("E11.9", "e11.9"),  # unchanged
        ("W19.XXXA", "w19.xxx"),  # 7th character dropped
        ("T81.40XA", "t81.4xx"),  # FY2018 placeholder form, as train writes it
        ("S22.49XA", "s22.49xa"),  # category where train keeps the 7th character
        ("S72.001A", "s72.001"),
    ],
)
def test_mapping(real_kb: KnowledgeBase, product: str, benchmark: str) -> None:
    assert Crosswalk(real_kb, TRAIN).d(product) == benchmark


def test_pcs_is_lower_cased() -> None:
    assert Crosswalk.p("0FT44ZZ") == "0ft44zz"
