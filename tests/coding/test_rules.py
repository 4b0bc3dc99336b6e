"""Code patterns and the rule tables' loader: bad entries fail naming file and line."""

from __future__ import annotations

import pytest

from cac.coding import axes, combinations, integral
from cac.coding.notes import references
from cac.coding.rules import CodePattern, check_section, load_table
from cac.errors import SourceError


@pytest.mark.parametrize(
    ("pattern", "inside", "outside"),
    [
        ("E11.9", ["E119"], ["E1122", "E11"]),
        ("N18.-", ["N18", "N1830", "N186"], ["N19", "N1"]),
        ("I50.4-", ["I5040", "I5043"], ["I5030"]),
        ("N18.1-N18.4", ["N181", "N1830", "N1832", "N184"], ["N185", "N186", "N189"]),
        ("E08-E13", ["E0800", "E1122", "E139"], ["E14", "E07"]),
    ],
)
def test_patterns_match_codes_below_them(
    pattern: str, inside: list[str], outside: list[str]
) -> None:
    parsed = CodePattern.parse(pattern)
    assert all(parsed.matches(c) for c in inside)
    assert not any(parsed.matches(c) for c in outside)


@pytest.mark.parametrize("bad", ["E11.9.1", "N18.4-N18.1", "diabetes", "1E1"])
def test_bad_patterns_are_rejected_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="code"):
        CodePattern.parse(bad)


def test_sections_are_checked() -> None:
    assert check_section("I.A.15; I.C.4.a") == "I.A.15; I.C.4.a"
    with pytest.raises(ValueError, match="section"):
        check_section("chapter 4")


def test_a_bad_row_fails_with_file_and_line() -> None:
    text = "# comment\nok\tI.A.15\tE11.9\n\nbad row\tI.A.15\tnot-a-code\n"
    with pytest.raises(SourceError, match=r"x\.tsv, line 4"):
        load_table(
            "x.tsv", ("id", "section", "codes"), lambda r: CodePattern.parse(r["codes"]), text
        )
    with pytest.raises(SourceError, match=r"x\.tsv, line 1: expected 3"):
        load_table("x.tsv", ("id", "section", "codes"), lambda r: r, "a\tb\n")
    with pytest.raises(SourceError, match="used twice"):
        load_table("x.tsv", ("id", "codes"), lambda r: r, "a\tE11\na\tE12\n")


def test_the_packaged_tables_load_and_cite_sections() -> None:
    for table in (combinations.combinations(), integral.integral_rules(), axes.axes()):
        assert table
        assert all(rule.section for rule in table)


def test_tabular_references_are_read_as_patterns() -> None:
    found = references("hypertension due to kidney disease (I15.0, I15.1); stage (N18.1-N18.6)")
    assert [p.matches("I150") for p in found] == [True, False, False]
    assert found[2].matches("N1832") and not found[2].matches("N189")
    assert references("diabetes (E08.-)")[0].matches("E0822")
    assert references("prose (see above)") == ()


def test_companion_rules_load_and_apply() -> None:
    from cac.coding import companions

    assert companions.companion_rules()
    assert companions.unaccompanied("Z6832", ["Z6832"]) is not None
    assert companions.unaccompanied("Z6832", ["Z6832", "E669"]) is None
    assert companions.unaccompanied("B9562", ["B9562", "A4102"]) is None


def test_a_word_absence_slot_is_parsed() -> None:
    rule = next(r for r in combinations.combinations() if r.id == "diabetes_insulin")
    assert any(s.absent and s.words for s in rule.slots)
    assert combinations.fill(rule, ["E119"], lambda words: "insulin" in words) == ("E119",)
    assert combinations.fill(rule, ["E119"], lambda words: True) is None
