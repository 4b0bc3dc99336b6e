"""Property tests of the real pipeline (hypothesis): any text, random or built to be awkward
(clinical words repeated, punctuation runs, odd Unicode, cues with nothing after them), gives a
result or a ``CodingInputError``, nothing else; every offset the result holds indexes the text
(``text[start:end] == span.text``); no evidence list is longer than its cap; and the note's
words never appear in the error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cac.coding.evidence import MAX_SPANS
from cac.pipeline import Coder, CodingInputError

pytestmark = pytest.mark.kb

_VOCABULARY = (
    "pneumonia COPD CHF HTN diabetes type 2 no denies history of family mother s/p status post "
    "chest X-ray pain fever cough was not detected negative for rule out possible CKD stage 3 "
    "fracture left right wrist fall laceration appendectomy bilirubin 1.2 mg/dL BMI 41 "
    "Assessment: Plan: PMH: - 1. ; , . ( ) / : \n"
)
WORDS = _VOCABULARY.split(" ")
AWKWARD = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\t",
        ".",
        "...",
        "\u00a0",
        "\u200a",
        "é",
        "µmol/L",
        "–",
        "•",
        "ﬁ",
        "😀",
        "\r\n",
    ]
)
TOKEN = st.one_of(st.sampled_from(WORDS), AWKWARD, st.text(max_size=6))
NOTES = st.one_of(
    st.lists(TOKEN, max_size=250).map(" ".join),
    st.tuples(st.sampled_from(WORDS), st.integers(1, 400)).map(lambda p: (p[0] + " ") * p[1]),
    st.text(max_size=600),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=NOTES)
def test_any_text_codes_or_fails_cleanly(real_coder: Coder, text: str) -> None:
    try:
        result = real_coder.code(text)
    except CodingInputError as exc:
        words = [w for w in text.split() if len(w) > 3]
        assert not any(w in str(exc) for w in words)
        return
    for s in result.suggestions:
        assert len(s.evidence) <= MAX_SPANS
        for e in s.evidence:
            assert text[e.start : e.end] == e.text
    for m in result.mentions:
        assert text[m.start : m.end] == m.text
