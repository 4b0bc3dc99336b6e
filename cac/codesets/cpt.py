"""CPT loader: the built-in demo set, or a licensed CPT file supplied by the user.

CPT descriptors are copyrighted by the AMA and cac never ships them. Without a licensed file
cac uses its demo set (``cac/codesets/data/cpt_demo.tsv``): about 340 common CPT code numbers
with descriptions written by the cac project in its own plain words, every record flagged
``demo=True`` (see ``CPT_DEMO_README.md`` beside it). With a licence, point ``CAC_CPT_FILE`` at
the licensed file and pass it to :func:`load`.

Accepted licensed-file formats (one code per line, UTF-8 or Windows-1252, read line by line):

* **Tab-separated**, two or more columns: ``code<TAB>descriptor[<TAB>...]``; the columns after
  the descriptor are ignored.
* **Fixed text** in the AMA data-file style, used for any line without a tab:
  ``code<space>descriptor``: the first token is the code, the rest of the line the descriptor.

In both formats blank lines and lines starting with ``#`` are skipped, and the first remaining
line is taken as a header row and skipped when its first field is not a CPT-like code. A CPT
code is four digits followed by a digit, ``F`` (Category II), ``T`` (Category III) or ``U``
(proprietary laboratory analyses), i.e. ``^[0-9]{4}[0-9FTU]$``, case-insensitive; codes are
stored upper-case. Any other line whose first field is not such a code, or that has no
descriptor, is an error naming the file and the line number. A code seen again is ignored (the
first line wins) and the number of such duplicates is logged as a warning.

Every code gets a non-billable ``section`` record as its parent. Demo codes use the ``category``
column of the demo file; licensed codes are placed by code range:

* ``anesthesia``: 00100-01999
* ``surgery``: 10004-69990
* ``radiology``: 70010-79999
* ``pathology_lab``: 80047-89398, and proprietary laboratory analyses (``....U``)
* ``medicine``: 90281-99199 and 99500-99607
* ``evaluation_management``: 99202-99499
* ``category_ii``: ``....F``; ``category_iii``: ``....T``
* ``other``: a numeric code outside every range above

Error messages name the file and line but never quote descriptor text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.errors import SourceError

__all__ = [
    "DEMO_CATEGORIES",
    "DEMO_FILE",
    "SECTIONS",
    "is_cpt_code",
    "load",
    "section_for",
    "source_info",
]

_log = logging.getLogger(__name__)

DEMO_FILE: Path = Path(str(files("cac.codesets.data") / "cpt_demo.tsv"))
"""The built-in demo set: CPT code numbers with cac's own descriptions (not AMA text)."""

# Section code -> title, in the order the section records are yielded.
SECTIONS: dict[str, str] = {
    "evaluation_management": "Evaluation and management",
    "anesthesia": "Anesthesia",
    "surgery": "Surgery",
    "radiology": "Radiology",
    "pathology_lab": "Pathology and laboratory",
    "medicine": "Medicine",
    "category_ii": "Category II performance measurement codes",
    "category_iii": "Category III emerging technology codes",
    "other": "Other CPT codes",
}
DEMO_CATEGORIES: frozenset[str] = frozenset(
    ("evaluation_management", "anesthesia", "surgery", "radiology", "pathology_lab", "medicine")
)
"""The values the ``category`` column of the demo file may take."""

_DEMO_HEADER = ("code", "category", "description", "synonyms")
_CODE = re.compile(r"^[0-9]{4}[0-9FTU]$", re.IGNORECASE)
# Numeric ranges, inclusive, checked in order.
_RANGES: tuple[tuple[int, int, str], ...] = (
    (100, 1999, "anesthesia"),
    (10004, 69990, "surgery"),
    (70010, 79999, "radiology"),
    (80047, 89398, "pathology_lab"),
    (90281, 99199, "medicine"),
    (99202, 99499, "evaluation_management"),
    (99500, 99607, "medicine"),
)
_SUFFIX_SECTIONS = {"F": "category_ii", "T": "category_iii", "U": "pathology_lab"}


def is_cpt_code(text: str) -> bool:
    """Whether ``text`` looks like a CPT code (``99213``, ``0001F``, ``0042T``, ``0001u``).

    Args:
        text: A candidate code; surrounding whitespace is ignored.

    Returns:
        True when it is four digits followed by a digit, ``F``, ``T`` or ``U`` (any case).
    """
    return _CODE.match(text.strip()) is not None


def section_for(code: str) -> str:
    """The section a CPT code belongs to, from its range or its final letter.

    Args:
        code: A CPT-like code (see :func:`is_cpt_code`).

    Returns:
        One of the keys of :data:`SECTIONS`; ``other`` for a numeric code in no known range.

    Raises:
        ValueError: if ``code`` is not CPT-like.
    """
    norm = code.strip().upper()
    if not _CODE.match(norm):
        raise ValueError("not a CPT code")
    last = norm[-1]
    if last in _SUFFIX_SECTIONS:
        return _SUFFIX_SECTIONS[last]
    number = int(norm)
    for low, high, section in _RANGES:
        if low <= number <= high:
            return section
    return "other"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One parsed code line."""

    code: str
    title: str
    section: str
    synonyms: tuple[str, ...] = ()


def _read_lines(path: Path, what: str) -> list[str]:
    """The lines of ``path``, decoded as UTF-8 (BOM allowed) or else Windows-1252."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise SourceError(f"{what} {path} is not readable: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _content(lines: list[str]) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for each line that is neither blank nor a ``#`` comment."""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def _clean(text: str) -> str:
    """Collapse runs of whitespace and trim."""
    return " ".join(text.split())


def _split_licensed(line: str) -> tuple[str, str]:
    """``(code field, descriptor)`` of a licensed-file line, tab-separated or fixed text."""
    if "\t" in line:
        fields = line.split("\t")
        return fields[0].strip(), (_clean(fields[1]) if len(fields) > 1 else "")
    parts = line.strip().split(None, 1)
    return parts[0], (_clean(parts[1]) if len(parts) > 1 else "")


def _parse_licensed(path: Path) -> list[_Entry]:
    """The entries of a licensed CPT file, in file order (duplicates included)."""
    what = "CPT file"
    entries: list[_Entry] = []
    first = True
    for number, line in _content(_read_lines(path, what)):
        field, descriptor = _split_licensed(line)
        if first:
            first = False
            if not is_cpt_code(field):
                continue  # header row
        if not is_cpt_code(field):
            raise SourceError(
                f"{what} {path}, line {number}: the first field is not a CPT code "
                "(expected 4 digits then a digit, F, T or U)"
            )
        if not descriptor:
            raise SourceError(f"{what} {path}, line {number}: code has no descriptor")
        code = field.upper()
        entries.append(_Entry(code=code, title=descriptor, section=section_for(code)))
    return entries


def _parse_demo(path: Path) -> list[_Entry]:
    """The entries of the demo file, in file order (duplicates included)."""
    what = "CPT demo file"
    entries: list[_Entry] = []
    first = True
    for number, line in _content(_read_lines(path, what)):
        fields = [f.strip() for f in line.split("\t")]
        if first:
            first = False
            if tuple(f.lower() for f in fields[: len(_DEMO_HEADER)]) != _DEMO_HEADER:
                raise SourceError(
                    f"{what} {path}, line {number}: expected the header "
                    f"{'<TAB>'.join(_DEMO_HEADER)}"
                )
            continue
        if len(fields) < 3 or not is_cpt_code(fields[0]):
            raise SourceError(
                f"{what} {path}, line {number}: expected code<TAB>category<TAB>description"
            )
        code, category, description = fields[0].upper(), fields[1], _clean(fields[2])
        if category not in DEMO_CATEGORIES:
            raise SourceError(f"{what} {path}, line {number}: unknown category {category!r}")
        if not description:
            raise SourceError(f"{what} {path}, line {number}: code has no description")
        raw = fields[3].split("|") if len(fields) > 3 else []
        synonyms = tuple(dict.fromkeys(s for part in raw if (s := _clean(part))))
        entries.append(_Entry(code=code, title=description, section=category, synonyms=synonyms))
    return entries


def _records(entries: list[_Entry], demo: bool) -> list[CodeRecord]:
    """Section records (those used, in :data:`SECTIONS` order) followed by the code records."""
    used = {entry.section for entry in entries}
    suffix = " (demo)" if demo else ""
    records = [
        CodeRecord(
            system=System.CPT,
            code=section,
            title=title + suffix,
            kind="section",
            billable=False,
            demo=demo,
        )
        for section, title in SECTIONS.items()
        if section in used
    ]
    records.extend(
        CodeRecord(
            system=System.CPT,
            code=entry.code,
            title=entry.title,
            kind="code",
            billable=True,
            active=True,
            parent=entry.section,
            synonyms=entry.synonyms,
            demo=demo,
        )
        for entry in entries
    )
    return records


def load(path: Path | None = None) -> Iterator[CodeRecord]:
    """CPT records: section records first, then one record per code.

    The file is read and checked completely before the first record is returned, so errors
    surface on the call itself.

    Args:
        path: A licensed CPT file (see the module docstring for its formats), usually the
            ``CAC_CPT_FILE`` setting. ``None`` loads the built-in demo set, whose records are
            all flagged ``demo=True``; records from a licensed file have ``demo=False``.

    Returns:
        An iterator over the section records used, then the code records in file order.

    Raises:
        SourceError: if the file is missing or unreadable, holds no codes, or has a line whose
            first field is not a CPT code or that lacks a descriptor.
    """
    source = DEMO_FILE if path is None else path
    parsed = _parse_demo(source) if path is None else _parse_licensed(source)
    if not parsed:
        raise SourceError(f"CPT file {source} contains no CPT codes")
    first_of_each: dict[str, _Entry] = {}
    for entry in parsed:
        first_of_each.setdefault(entry.code, entry)
    entries = list(first_of_each.values())
    duplicates = len(parsed) - len(entries)
    if duplicates:
        _log.warning(
            "CPT file %s: %d duplicate code line(s) ignored; the first of each code was kept",
            source,
            duplicates,
        )
    return iter(_records(entries, demo=path is None))


def source_info(path: Path | None = None) -> SourceInfo:
    """Provenance of the CPT records for the manifest.

    Args:
        path: The licensed CPT file, or ``None`` for the built-in demo set.

    Returns:
        The source's name, version and the file whose content decides rebuilds.
    """
    if path is None:
        return SourceInfo(
            system=System.CPT,
            name="cac CPT demo set (own-words descriptions, not AMA text)",
            version="demo",
            files=(str(DEMO_FILE.resolve()),),
        )
    return SourceInfo(
        system=System.CPT,
        name="licensed CPT file",
        version="user-supplied",
        files=(str(path.resolve()),),
    )
