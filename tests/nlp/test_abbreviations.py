"""The curated abbreviation table."""

from cac.nlp.abbreviations import load_abbreviations
from cac.nlp.tokens import normalize_phrase, tokenize


def test_table_loads_normalised() -> None:
    table = load_abbreviations()
    assert table["lap chole"] == "laparoscopic cholecystectomy"
    assert table["htn"] == "hypertension"


def test_tokens_keep_offsets() -> None:
    text = "s/p Lap-Chole."
    assert [(t.norm, text[t.start : t.end]) for t in tokenize(text)] == [
        ("s", "s"),
        ("p", "p"),
        ("lap", "Lap"),
        ("chole", "Chole"),
    ]
    assert normalize_phrase("Type-2 Diabetes") == ("type", "2", "diabetes")
