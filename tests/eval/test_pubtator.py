from __future__ import annotations

from pathlib import Path

import pytest

from cac.errors import CacError
from eval.pubtator import bc5cdr, read_pubtator

SAMPLE = (
    "1|t|Fever after surgery.\n"
    "1|a|Patients had sepsis and aspirin.\n"
    "1\t0\t5\tFever\tDisease\tD1\n"
    "1\t34\t40\tsepsis\tDisease\tD2\n"
    "1\t45\t52\taspirin\tChemical\tC1\n"
    "1\tCID\tC1\tD2\n"
    "\n"
    "2|t|No findings.\n"
    "2|a|Normal.\n"
)


def test_reads_disease_mentions_over_title_and_abstract(tmp_path: Path) -> None:
    path = tmp_path / "s.PubTator.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    first, second = read_pubtator(path)
    assert first.text == "Fever after surgery. Patients had sepsis and aspirin."
    assert [first.text[s:e] for s, e, _ in first.spans] == ["Fever", "sepsis"]
    assert {label for _, _, label in first.spans} == {"DIAGNOSIS"}
    assert second.spans == []


def test_offset_that_does_not_match_the_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(SAMPLE.replace("34\t40", "33\t39"), encoding="utf-8")
    with pytest.raises(CacError, match="does not match"):
        read_pubtator(path)


def test_vendored_bc5cdr_has_the_official_disease_counts() -> None:
    counts = {split: sum(len(d.spans) for d in bc5cdr(split)) for split in ("train", "test")}
    assert counts == {"train": 4182, "test": 4424}
    assert len(bc5cdr("dev")) == 500
