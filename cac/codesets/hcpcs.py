"""Loader for the CMS Alpha-Numeric HCPCS (Level II) file.

The file is fixed-width text (latin-1, CRLF line endings) that may start with a free-text
disclaimer. Each record line holds one procedure code or modifier; descriptions longer than
80 characters go on continuation lines. Columns are 1-based and inclusive:

============  =======  ======================================================
Field         Columns  Meaning
============  =======  ======================================================
HCPC          1-5      code; modifiers are right-aligned (``"   LT"``)
SEQNUM        6-10     line sequence within the code (5 digits)
RECID         11       3 procedure, 4 procedure continuation,
                       7 modifier, 8 modifier continuation
LONG_DESC     12-91    long description (or its continuation)
SHORT_DESC    92-119   short description
ADD_DT        269-276  date the code was added (``YYYYMMDD``)
ACT_EFF_DT    277-284  effective date of the latest action
TERM_DT       285-292  termination date; blank while the code is active
============  =======  ======================================================

The columns in between carry Medicare pricing and coverage data that cac does not use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from cac.codesets.records import CodeRecord, SourceInfo, System, normalize_code
from cac.errors import SourceError

__all__ = ["DEFAULT_FILE", "SECTION_TITLES", "load", "source_info"]

_FILE_NAME = "HCPC2020_ANWEB_w_disclaimer.txt"

DEFAULT_FILE: Path = Path(str(files("cac.codesets.data") / "hcpcs" / _FILE_NAME))
"""The vendored CMS 2020 Alpha-Numeric HCPCS file."""

SECTION_TITLES: dict[str, str] = {
    "A": "Transportation services, medical and surgical supplies, miscellaneous and experimental",
    "B": "Enteral and parenteral therapy",
    "C": "Outpatient prospective payment system (temporary hospital codes)",
    "E": "Durable medical equipment",
    "G": "Procedures and professional services (temporary)",
    "H": "Alcohol and drug abuse treatment and behavioral health services",
    "J": "Drugs administered other than oral method and chemotherapy drugs",
    "K": "Temporary codes for durable medical equipment",
    "L": "Orthotic and prosthetic procedures and devices",
    "M": "Medical services and quality measures",
    "P": "Pathology and laboratory services",
    "Q": "Miscellaneous temporary codes",
    "R": "Diagnostic radiology services",
    "S": "Temporary national codes (non-Medicare)",
    "T": "National codes established for state Medicaid agencies",
    "U": "Temporary laboratory codes",
    "V": "Vision, hearing and speech-language pathology services",
}
"""Short descriptive names of the HCPCS Level II letter sections (written for cac)."""

_NAME = "CMS Alpha-Numeric HCPCS file"
_ENCODING = "latin-1"

# 0-based slices of the 1-based inclusive columns documented above.
_CODE = slice(0, 5)
_SEQNUM = slice(5, 10)
_RECID = 10
_LONG = slice(11, 91)
_SHORT = slice(91, 119)
_ADD_DT = slice(268, 276)
_EFF_DT = slice(276, 284)
_TERM_DT = slice(284, 292)

_RECORD_MIN_LEN = _TERM_DT.stop  # a code or modifier line must reach the end of TERM_DT
_CONTINUATION_MIN_LEN = _LONG.start + 1  # a continuation line must hold some description

_PROCEDURE = "3"
_PROCEDURE_CONT = "4"
_MODIFIER = "7"
_MODIFIER_CONT = "8"
_RECIDS = (_PROCEDURE, _PROCEDURE_CONT, _MODIFIER, _MODIFIER_CONT)

_PROCEDURE_CODE = re.compile(r"[A-Za-z][0-9]{4}")
_MODIFIER_CODE = re.compile(r" {3}[A-Za-z0-9]{2}")
# A data line starts with a code field (procedure or right-aligned modifier) and a 5-digit
# SEQNUM. Disclaimer text before the first record never looks like this.
_DATA_LINE = re.compile(r"(?:[A-Za-z][0-9]{4}| {3}[A-Za-z0-9]{2})[0-9]{5}")
_DATE = re.compile(r"[0-9]{8}")
_VERSION = re.compile(r"HCPC(\d{4})", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(slots=True)
class _Entry:
    """One procedure code or modifier being assembled from its record and continuation lines."""

    code: str
    kind: str
    line_no: int
    long_parts: list[str]
    short: str
    dates: dict[str, str] = field(default_factory=dict)


def _collapse(text: str) -> str:
    """Collapse runs of whitespace to single spaces and strip the ends."""
    return _SPACES.sub(" ", text).strip()


def _read_lines(path: Path) -> list[str]:
    """Read ``path`` as latin-1 and split it on LF, dropping any CR before it.

    ``str.splitlines`` is avoided on purpose: it would also split on characters such as
    ``\\x85`` that latin-1 maps to line separators.

    Raises:
        SourceError: if the file is missing or cannot be read.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(
            f"HCPCS file not found: {path}; pass the path of a CMS Alpha-Numeric HCPCS file"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SourceError(f"cannot read HCPCS file {path}: {reason}") from None
    return [line.rstrip("\r") for line in raw.decode(_ENCODING).split("\n")]


def _date(path: Path, line_no: int, line: str, name: str, columns: slice) -> str | None:
    """Return the ``YYYYMMDD`` date in ``columns`` of ``line``, or ``None`` when blank.

    Raises:
        SourceError: if the field holds something other than eight digits.
    """
    value = line[columns].strip()
    if not value:
        return None
    if not _DATE.fullmatch(value):
        raise SourceError(
            f"malformed HCPCS file {path}: line {line_no}: {name} {value!r} is not a "
            f"YYYYMMDD date (columns {columns.start + 1}-{columns.stop})"
        )
    return value


def _parse(path: Path) -> list[_Entry]:
    """Parse ``path`` into entries, in file order.

    Raises:
        SourceError: if the file is missing, unreadable or malformed.
    """
    entries: list[_Entry] = []
    seen: dict[tuple[str, str], int] = {}
    current: _Entry | None = None
    in_data = False
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        if not _DATA_LINE.match(line):
            if not in_data:
                continue  # disclaimer text before the first record
            raise SourceError(
                f"malformed HCPCS file {path}: line {line_no} is not a HCPCS record "
                f"(expected a code in columns 1-5 and a sequence number in columns 6-10)"
            )
        in_data = True
        if len(line) <= _RECID:
            raise SourceError(
                f"malformed HCPCS file {path}: line {line_no} is too short to hold the "
                f"record type (column {_RECID + 1}); the file may be truncated"
            )
        recid = line[_RECID]
        if recid not in _RECIDS:
            raise SourceError(
                f"malformed HCPCS file {path}: line {line_no} has record type {recid!r} in "
                f"column {_RECID + 1}; expected one of {', '.join(_RECIDS)}"
            )
        code_field = line[_CODE]
        is_modifier = recid in (_MODIFIER, _MODIFIER_CONT)
        code_shape = _MODIFIER_CODE if is_modifier else _PROCEDURE_CODE
        if not code_shape.fullmatch(code_field):
            what = "modifier" if is_modifier else "procedure code"
            raise SourceError(
                f"malformed HCPCS file {path}: line {line_no}: {code_field.strip()!r} is not a "
                f"{what}, but record type {recid} is for a {what}"
            )
        code = normalize_code(code_field)

        if recid in (_PROCEDURE_CONT, _MODIFIER_CONT):
            if len(line) < _CONTINUATION_MIN_LEN:
                raise SourceError(
                    f"malformed HCPCS file {path}: line {line_no} is too short to hold a "
                    f"description (columns {_LONG.start + 1}-{_LONG.stop})"
                )
            parent_kind = "modifier" if is_modifier else "code"
            if current is None or current.code != code or current.kind != parent_kind:
                raise SourceError(
                    f"malformed HCPCS file {path}: line {line_no} continues {code!r}, but it "
                    f"does not follow that code's record line"
                )
            current.long_parts.append(line[_LONG])
            continue

        if len(line) < _RECORD_MIN_LEN:
            raise SourceError(
                f"malformed HCPCS file {path}: line {line_no} has {len(line)} characters, too "
                f"short to hold the fixed fields (at least {_RECORD_MIN_LEN} expected); the "
                f"file may be truncated or not a CMS Alpha-Numeric HCPCS file"
            )
        kind = "modifier" if is_modifier else "code"
        if (kind, code) in seen:
            raise SourceError(
                f"malformed HCPCS file {path}: line {line_no} repeats {kind} {code!r} "
                f"(first on line {seen[kind, code]})"
            )
        seen[kind, code] = line_no
        current = _Entry(
            code=code,
            kind=kind,
            line_no=line_no,
            long_parts=[line[_LONG]],
            short=_collapse(line[_SHORT]),
        )
        for name, columns in (
            ("add_date", _ADD_DT),
            ("effective_date", _EFF_DT),
            ("term_date", _TERM_DT),
        ):
            value = _date(path, line_no, line, name, columns)
            if value is not None:
                current.dates[name] = value
        entries.append(current)

    if not entries:
        raise SourceError(
            f"no HCPCS records found in {path}; expected a CMS Alpha-Numeric HCPCS file "
            f"(fixed-width lines with the code in columns 1-5 and record type in column 11)"
        )
    return entries


def _to_record(path: Path, entry: _Entry) -> CodeRecord:
    """Turn a parsed entry into a :class:`CodeRecord`.

    Raises:
        SourceError: if the entry has neither a long nor a short description.
    """
    title = _collapse(" ".join(entry.long_parts)) or entry.short
    if not title:
        raise SourceError(
            f"malformed HCPCS file {path}: line {entry.line_no}: {entry.kind} {entry.code!r} "
            f"has no description"
        )
    synonyms = (entry.short,) if entry.short and entry.short.lower() != title.lower() else ()
    active = "term_date" not in entry.dates
    is_code = entry.kind == "code"
    return CodeRecord(
        system=System.HCPCS,
        code=entry.code,
        title=title,
        kind=entry.kind,
        billable=is_code and active,
        active=active,
        parent=entry.code[0] if is_code else None,
        synonyms=synonyms,
        attributes=tuple(sorted(entry.dates.items())),
    )


def _section(letter: str) -> CodeRecord:
    """The grouping record of HCPCS letter section ``letter``."""
    return CodeRecord(
        system=System.HCPCS,
        code=letter,
        title=SECTION_TITLES.get(letter, f"HCPCS {letter} codes"),
        kind="section",
        billable=False,
    )


def load(path: Path | None = None) -> Iterator[CodeRecord]:
    """Read a CMS Alpha-Numeric HCPCS file.

    The whole file is parsed (and validated) when ``load`` is called; the records come back
    in this order: one ``section`` record per code letter present (sorted by letter), then
    the procedure codes (``kind="code"``) and modifiers (``kind="modifier"``) in file order.

    Procedure codes have ``parent`` set to their section letter and are billable while
    active; modifiers have no parent and are never billable on their own. A code or
    modifier with a termination date is kept with ``active=False`` and ``billable=False``.
    ``title`` is the full long description (continuation lines joined with a space);
    the short description is the only synonym when it differs from the title. Dates are
    kept as ``add_date``, ``effective_date`` and ``term_date`` attributes (``YYYYMMDD``).

    Args:
        path: The file to read; the vendored 2020 file (:data:`DEFAULT_FILE`) if ``None``.

    Returns:
        An iterator over the records.

    Raises:
        SourceError: if the file is missing, unreadable, holds no HCPCS records, or has a
            malformed line (the message names the file and, where it applies, the line).
    """
    source = Path(path) if path is not None else DEFAULT_FILE
    entries = _parse(source)
    letters = sorted({entry.code[0] for entry in entries if entry.kind == "code"})
    records = [_section(letter) for letter in letters]
    records.extend(_to_record(source, entry) for entry in entries)
    return iter(records)


def source_info(path: Path | None = None) -> SourceInfo:
    """Describe the HCPCS source file for the knowledge-base manifest.

    The file is not opened; :func:`load` reports a missing or malformed file.

    Args:
        path: The file the records come from; :data:`DEFAULT_FILE` if ``None``.

    Returns:
        The source description; ``version`` is the year in a CMS file name
        (``HCPC2020_...`` gives ``"2020"``) and ``"custom"`` for any other name.
    """
    source = (Path(path) if path is not None else DEFAULT_FILE).resolve()
    match = _VERSION.search(source.name)
    version = match.group(1) if match else "custom"
    return SourceInfo(system=System.HCPCS, name=_NAME, version=version, files=(str(source),))
