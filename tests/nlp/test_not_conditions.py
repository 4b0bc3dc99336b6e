"""Phrases whose head word names a condition they do not state."""

from __future__ import annotations

from cac.nlp.not_conditions import inside, patterns, phrases


def _span(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


def test_a_measurement_blocks_its_head_word_and_itself() -> None:
    text = "Echo: LVEF depression (40-45%). ECG: ST depression in V4-V6."
    blocked = phrases(text)
    for words in ("depression", "LVEF depression", "ST depression"):
        assert inside(_span(text, words), blocked), words


def test_a_condition_of_its_own_keeps_the_whole_phrase() -> None:
    text = "Respiratory depression after opioids."
    blocked = phrases(text)
    assert inside(_span(text, "depression"), blocked)
    assert not inside(_span(text, "Respiratory depression"), blocked)


def test_plain_words_are_not_blocked() -> None:
    text = "Major depression on sertraline; multiple myeloma in remission."
    assert phrases(text) == []
    marker = "Positive for multiple myeloma oncogene 1 and CD138."
    assert inside(_span(marker, "multiple myeloma"), phrases(marker))


def test_every_row_compiles() -> None:
    assert len(patterns()) >= 3


def test_a_lab_value_is_no_diagnosis() -> None:
    text = "The total bilirubin (TBil) was 12.2 umol/L; creatinine 2.2 mg/dL."
    blocked = phrases(text)
    for words in ("bilirubin", "total bilirubin", "creatinine"):
        assert inside(_span(text, words), blocked), words
    stated = "Elevated bilirubin and jaundice; hyperbilirubinemia."
    assert phrases(stated) == []
