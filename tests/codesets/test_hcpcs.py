"""Tests of the CMS Alpha-Numeric HCPCS loader, on the vendored 2020 file and on tiny fixtures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cac.codesets import hcpcs
from cac.codesets.records import CodeRecord, System
from cac.errors import SourceError

# ---------------------------------------------------------------------------------------------
# Fixture files in the CMS fixed-width layout
# ---------------------------------------------------------------------------------------------

_RECORD_WIDTH = 320
_DISCLAIMER = (
    "Note regarding coverage and payment indicators for codes in CMS\x92 2020 HCPCS Update",
    "",
    "If specific Medicare coverage or payment indicators have not been established, 12345",
    "",
)


def _line(
    code: str,
    recid: str,
    long: str = "",
    short: str = "",
    *,
    seq: int = 100,
    add: str = "",
    eff: str = "",
    term: str = "",
    action: str = "N",
) -> str:
    """One line in the CMS layout; each field is padded into its 1-based inclusive columns."""
    buf = [" "] * _RECORD_WIDTH

    def put(first: int, last: int, value: str, right: bool = False) -> None:
        width = last - first + 1
        assert len(value) <= width, (value, width)
        text = value.rjust(width) if right else value.ljust(width)
        buf[first - 1 : last] = text

    put(1, 5, code, right=True)  # modifiers are right-aligned: "   LT"
    put(6, 10, f"{seq:05d}")
    put(11, 11, recid)
    put(12, 91, long)
    if recid in ("4", "8"):
        return "".join(buf[:91])  # continuation lines stop after the long description
    put(92, 119, short)
    put(269, 276, add)
    put(277, 284, eff)
    put(285, 292, term)
    put(293, 293, action)
    return "".join(buf)


def _write(path: Path, lines: list[str], *, disclaimer: bool = True) -> Path:
    """Write ``lines`` (after a disclaimer) as latin-1 with CRLF line endings."""
    body = [*_DISCLAIMER, *lines] if disclaimer else lines
    path.write_bytes("".join(f"{line}\r\n" for line in body).encode("latin-1"))
    return path


def _by_key(records: list[CodeRecord]) -> dict[tuple[str, str], CodeRecord]:
    return {(r.kind, r.code): r for r in records}


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "HCPC2021_small.txt",
        [
            _line(
                "E0110",
                "3",
                "Crutches, forearm, includes crutches of various materials, adjustable or fixed,",
                "Crutch forearm pair",
                add="19860101",
                eff="19960101",
            ),
            _line("E0110", "4", "pair, complete with tips and handgrips", seq=200),
            _line(
                "A4466",
                "3",
                "Garment, belt, sleeve or other covering, elastic",
                "Elastic garment/covering",
                add="20100101",
                eff="20170101",
                term="20161231",
                action="D",
            ),
            _line("j0135", "3", "Injection, adalimumab, 20 mg", "INJECTION, ADALIMUMAB, 20 MG"),
            _line(
                "LT",
                "7",
                "Left side (used to identify procedures performed on the",
                "Left side",
                add="19840101",
                eff="19970101",
            ),
            _line("LT", "8", "left side of the body)", seq=200),
            _line(
                "CP",
                "7",
                "Adjunctive service",
                "Adjunctive service",
                add="20160101",
                eff="20180101",
                term="20171231",
            ),
        ],
    )


# ---------------------------------------------------------------------------------------------
# The vendored CMS 2020 file
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_records() -> list[CodeRecord]:
    return list(hcpcs.load())


@pytest.fixture(scope="module")
def real_by_key(real_records: list[CodeRecord]) -> dict[tuple[str, str], CodeRecord]:
    return _by_key(real_records)


def test_default_file_is_vendored() -> None:
    assert hcpcs.DEFAULT_FILE.is_file()
    assert hcpcs.DEFAULT_FILE.name == "HCPC2020_ANWEB_w_disclaimer.txt"
    assert hcpcs.DEFAULT_FILE.parent.name == "hcpcs"


def test_real_file_counts(real_records: list[CodeRecord]) -> None:
    kinds = Counter(r.kind for r in real_records)
    assert kinds["code"] == 6710
    assert kinds["modifier"] == 369
    assert kinds["section"] == 16
    assert set(kinds) == {"code", "modifier", "section"}
    assert all(r.system is System.HCPCS for r in real_records)


def test_real_file_keys_unique_and_normalised(real_records: list[CodeRecord]) -> None:
    keys = [(r.kind, r.code) for r in real_records]
    assert len(keys) == len(set(keys))
    for r in real_records:
        assert r.code == r.code.upper()
        assert r.title == " ".join(r.title.split())
        assert len(r.code) == {"code": 5, "modifier": 2, "section": 1}[r.kind]


def test_real_sections_come_first_and_match_codes(real_records: list[CodeRecord]) -> None:
    sections = [r for r in real_records if r.kind == "section"]
    assert real_records[: len(sections)] == sections
    assert [s.code for s in sections] == sorted(s.code for s in sections)
    assert {s.code for s in sections} == set("ABCEGHJKLMPQRSTV")
    assert all(not s.billable and s.parent is None for s in sections)
    assert next(s for s in sections if s.code == "E").title == "Durable medical equipment"
    codes = [r for r in real_records if r.kind == "code"]
    assert {r.parent for r in codes} == {s.code for s in sections}
    assert all(r.parent == r.code[0] for r in codes)


def test_real_e0110_is_crutches_with_continuation_merged(
    real_by_key: dict[tuple[str, str], CodeRecord],
) -> None:
    rec = real_by_key["code", "E0110"]
    assert "crutches" in rec.title.lower()
    # The long description spans a RECID 3 line and a RECID 4 continuation line.
    assert rec.title == (
        "Crutches, forearm, includes crutches of various materials, adjustable or fixed, "
        "pair, complete with tips and handgrips"
    )
    assert rec.synonyms == ("Crutch forearm pair",)
    assert rec.active and rec.billable
    assert rec.parent == "E"
    assert rec.attributes == (("add_date", "19860101"), ("effective_date", "19960101"))


def test_real_terminated_code_is_inactive_and_not_billable(
    real_by_key: dict[tuple[str, str], CodeRecord],
) -> None:
    rec = real_by_key["code", "A4466"]
    assert not rec.active
    assert not rec.billable
    assert dict(rec.attributes)["term_date"] == "20161231"
    codes = [r for r in real_by_key.values() if r.kind == "code"]
    terminated = [r for r in codes if "term_date" in dict(r.attributes)]
    assert len(terminated) == 605
    assert all(not r.active and not r.billable for r in terminated)
    terminated_codes = {r.code for r in terminated}
    assert all(r.active and r.billable for r in codes if r.code not in terminated_codes)


def test_real_modifiers(real_by_key: dict[tuple[str, str], CodeRecord]) -> None:
    lt = real_by_key["modifier", "LT"]
    assert lt.title.startswith("Left side")
    assert lt.synonyms == ("Left side",)
    assert lt.parent is None
    assert lt.active and not lt.billable
    assert ("modifier", "25") not in real_by_key  # 25 is a CPT modifier, not in this file
    cp = real_by_key["modifier", "CP"]
    assert not cp.active


def test_real_source_info() -> None:
    info = hcpcs.source_info()
    assert info.system is System.HCPCS
    assert info.name == "CMS Alpha-Numeric HCPCS file"
    assert info.version == "2020"
    assert info.files == (str(hcpcs.DEFAULT_FILE.resolve()),)


# ---------------------------------------------------------------------------------------------
# Small fixture files
# ---------------------------------------------------------------------------------------------


def test_fixture_records_and_order(small_file: Path) -> None:
    records = list(hcpcs.load(small_file))
    assert [(r.kind, r.code) for r in records] == [
        ("section", "A"),
        ("section", "E"),
        ("section", "J"),
        ("code", "E0110"),
        ("code", "A4466"),
        ("code", "J0135"),
        ("modifier", "LT"),
        ("modifier", "CP"),
    ]


def test_fixture_continuation_merge(small_file: Path) -> None:
    recs = _by_key(list(hcpcs.load(small_file)))
    assert recs["code", "E0110"].title == (
        "Crutches, forearm, includes crutches of various materials, adjustable or fixed, "
        "pair, complete with tips and handgrips"
    )
    assert recs["modifier", "LT"].title == (
        "Left side (used to identify procedures performed on the left side of the body)"
    )


def test_fixture_modifier_parsing(small_file: Path) -> None:
    lt = _by_key(list(hcpcs.load(small_file)))["modifier", "LT"]
    assert lt.code == "LT"
    assert lt.kind == "modifier"
    assert lt.parent is None
    assert not lt.billable
    assert lt.active
    assert lt.synonyms == ("Left side",)
    assert lt.attributes == (("add_date", "19840101"), ("effective_date", "19970101"))


def test_fixture_termination(small_file: Path) -> None:
    recs = _by_key(list(hcpcs.load(small_file)))
    garment = recs["code", "A4466"]
    assert not garment.active
    assert not garment.billable
    assert garment.attributes == (
        ("add_date", "20100101"),
        ("effective_date", "20170101"),
        ("term_date", "20161231"),
    )
    assert not recs["modifier", "CP"].active
    assert recs["code", "E0110"].active and recs["code", "E0110"].billable


def test_fixture_code_normalised_and_synonym_rules(small_file: Path) -> None:
    recs = _by_key(list(hcpcs.load(small_file)))
    inj = recs["code", "J0135"]
    assert inj.parent == "J"
    assert inj.synonyms == ()  # the short description equals the title, case aside
    assert recs["modifier", "CP"].synonyms == ()
    assert inj.attributes == ()


def test_fixture_source_info_versions(small_file: Path, tmp_path: Path) -> None:
    assert hcpcs.source_info(small_file).version == "2021"
    other = tmp_path / "my_codes.txt"
    info = hcpcs.source_info(other)
    assert info.version == "custom"
    assert info.files == (str(other.resolve()),)


def test_lf_only_and_no_disclaimer(tmp_path: Path) -> None:
    path = tmp_path / "lf.txt"
    lines = [_line("E0100", "3", "Cane, includes canes of all materials", "Cane")]
    path.write_bytes("".join(f"{line}\n" for line in lines).encode("latin-1"))
    recs = list(hcpcs.load(path))
    assert [(r.kind, r.code) for r in recs] == [("section", "E"), ("code", "E0100")]


def test_unknown_letter_gets_generic_section_title(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.txt", [_line("X1234", "3", "Something", "Something")])
    section = next(iter(hcpcs.load(path)))
    assert section.kind == "section"
    assert section.title == "HCPCS X codes"


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "HCPC2020.txt"
    with pytest.raises(SourceError, match="not found") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read") as info:
        list(hcpcs.load(tmp_path))  # a directory
    assert str(tmp_path) in str(info.value)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.txt"
    path.write_text("This is not\nan HCPCS file at all.\n\n1234567890 hello\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no HCPCS records") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_binary_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SourceError) as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match="no HCPCS records") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_truncated_record_line(tmp_path: Path) -> None:
    good = _line("E0100", "3", "Cane, includes canes of all materials", "Cane", add="19860101")
    path = _write(tmp_path / "trunc.txt", [good, good.replace("E0100", "E0105")[:150]])
    with pytest.raises(SourceError, match="too short") as info:
        list(hcpcs.load(path))
    message = str(info.value)
    assert str(path) in message
    assert f"line {len(_DISCLAIMER) + 2}" in message


def test_unknown_recid(tmp_path: Path) -> None:
    lines = [
        _line("E0100", "3", "Cane", "Cane"),
        _line("E0105", "5", "Cane, quad or three prong", "Cane quad"),
    ]
    path = _write(tmp_path / "recid.txt", lines)
    with pytest.raises(SourceError, match="record type '5'") as info:
        list(hcpcs.load(path))
    message = str(info.value)
    assert str(path) in message
    assert f"line {len(_DISCLAIMER) + 2}" in message


def test_text_after_records(tmp_path: Path) -> None:
    path = _write(tmp_path / "tail.txt", [_line("E0100", "3", "Cane", "Cane"), "end of file"])
    with pytest.raises(SourceError, match="not a HCPCS record") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_orphan_continuation(tmp_path: Path) -> None:
    lines = [
        _line("E0100", "3", "Cane", "Cane"),
        _line("E0105", "4", "continuation of nothing", seq=200),
    ]
    path = _write(tmp_path / "orphan.txt", lines)
    with pytest.raises(SourceError, match="does not follow") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_bad_date(tmp_path: Path) -> None:
    path = _write(tmp_path / "date.txt", [_line("E0100", "3", "Cane", "Cane", add="2020-1-1")])
    with pytest.raises(SourceError, match="add_date") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)


def test_duplicate_code(tmp_path: Path) -> None:
    line = _line("E0100", "3", "Cane", "Cane")
    path = _write(tmp_path / "dup.txt", [line, line])
    with pytest.raises(SourceError, match="repeats") as info:
        list(hcpcs.load(path))
    assert str(path) in str(info.value)
