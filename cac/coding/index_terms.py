"""Index terms: what notes call a code when its tabular title reads otherwise
("hypertension" for "Essential (primary) hypertension"), for the specificity matcher
(:mod:`cac.coding.statements`).

Two sources, merged:

* ``data/index_terms.tsv``: a short list in our own words, ``code<TAB>term``, for the
  conditions short notes name most; validated on load (file and line on a bad row);
* the CMS ICD-10-CM Alphabetic Index XML when the user supplies it (``CAC_ICD10CM_INDEX_FILE``,
  the CMS ``ICD10CM.index`` format: ``mainTerm`` / ``term`` entries with ``title`` and
  ``code``). A subterm's entry is its main term and the subterms above it
  ("Hypertension, with, heart failure" -> "hypertension with heart failure"); nonessential
  modifiers (``nemod``) stay parenthesised, so they are optional.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from functools import cache
from pathlib import Path

from cac.codesets.records import normalize_code
from cac.coding.rules import CodePattern, rows
from cac.config import get_settings
from cac.errors import SourceError

_COLUMNS = ("code", "term")


def _vendored() -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for number, row in rows("index_terms.tsv", _COLUMNS):
        try:
            pattern = CodePattern.parse(row["code"])
        except ValueError as exc:
            raise SourceError(f"index_terms.tsv, line {number}: {exc}") from None
        if pattern.prefix or not row["term"]:
            raise SourceError(f"index_terms.tsv, line {number}: expected one code and a term")
        out[pattern.first].append(row["term"])
    return out


def _title(element: ET.Element) -> str:
    title = element.find("title")
    if title is None:
        return ""
    parts = [title.text or ""]
    for child in title:
        text = "".join(child.itertext()).strip()
        parts.append(f" ({text.strip('()')}) " if child.tag == "nemod" else text)
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def read_index(path: Path) -> dict[str, list[str]]:
    """Code -> index entries of a CMS Alphabetic Index XML.

    Raises:
        SourceError: if the file is missing or is not a CMS ICD-10-CM index.
    """
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise SourceError(f"ICD-10-CM index file not found: {path}") from None
    except (ET.ParseError, OSError) as exc:
        raise SourceError(f"ICD-10-CM index file {path} is not readable XML: {exc}") from None
    if root.tag != "ICD10CM.index":
        raise SourceError(f"{path} is not a CMS ICD-10-CM Alphabetic Index (root {root.tag})")
    out: dict[str, list[str]] = defaultdict(list)

    def walk(element: ET.Element, above: list[str]) -> None:
        words = [*above, _title(element)]
        code = element.findtext("code")
        if code and code.strip():
            out[normalize_code(code.strip().rstrip("-").rstrip("."))].append(" ".join(words))
        for term in element.findall("term"):
            walk(term, words)

    for letter in root.findall("letter"):
        for main in letter.findall("mainTerm"):
            walk(main, [])
    return out


@cache
def index_terms() -> dict[str, tuple[str, ...]]:
    """Code (normalised) -> its index terms, from the vendored list and the user's index."""
    merged = _vendored()
    path = get_settings().icd10cm_index_file
    if path is not None:
        for code, terms in read_index(path).items():
            merged.setdefault(code, []).extend(terms)
    return {code: tuple(dict.fromkeys(terms)) for code, terms in merged.items()}
