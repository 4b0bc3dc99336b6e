"""What the conventions' data files share: code patterns and a tab-separated loader that fails
with the file and line of a bad entry.

A code pattern is written as coders write tabular references:

* ``E11.9``: that code;
* ``N18.-`` or ``I50.4-``: the code and everything below it;
* ``N18.1-N18.4`` or ``E08-E13``: a range, each end including what is below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TypeVar

from cac.codesets.records import normalize_code
from cac.errors import SourceError

_REF = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{0,4})?-?$")
# Guideline sections as the Official Guidelines number them: I.A.15, I.C.9.a.2, II.H, IV.H.
SECTION = re.compile(r"^(I|II|III|IV|PCS)(\.[A-Z0-9a-z]+)*$")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CodePattern:
    """One code, a code and its descendants, or an inclusive range (normalised, no dots)."""

    first: str
    last: str
    prefix: bool

    @classmethod
    def parse(cls, text: str) -> CodePattern:
        """Parse ``E11.9``, ``N18.-``, ``I50.4-``, ``N18.1-N18.4`` or ``E08-E13``.

        Raises:
            ValueError: naming the text, if it is none of these.
        """
        raw = text.strip().upper()
        if raw.endswith(".-") or (raw.endswith("-") and raw.count("-") == 1):
            base = raw.rstrip("-").rstrip(".")
            if not _REF.match(base):
                raise ValueError(f"bad code pattern {text!r}")
            code = normalize_code(base)
            return cls(code, code, True)
        if "-" in raw:
            first, _, last = raw.partition("-")
            if not (_REF.match(first) and _REF.match(last)):
                raise ValueError(f"bad code range {text!r}")
            a, b = normalize_code(first), normalize_code(last)
            if a > b:
                raise ValueError(f"code range {text!r} is reversed")
            return cls(a, b, True)
        if not _REF.match(raw):
            raise ValueError(f"bad code {text!r}")
        code = normalize_code(raw)
        return cls(code, code, False)

    def matches(self, code: str) -> bool:
        """Whether the normalised ``code`` is in the pattern."""
        if not self.prefix:
            return code == self.first
        return code[: len(self.first)] >= self.first and (
            code[: len(self.last)] <= self.last or code.startswith(self.last)
        )


def parse_patterns(text: str) -> tuple[CodePattern, ...]:
    """Patterns separated by ``;`` or ``,``."""
    return tuple(CodePattern.parse(p) for p in re.split(r"[;,]", text) if p.strip())


def any_match(patterns: Iterable[CodePattern], code: str) -> bool:
    return any(p.matches(code) for p in patterns)


def check_section(section: str) -> str:
    """Each ``;``-separated part must look like a guideline section (``I.C.9.a.2``).

    Raises:
        ValueError: naming the part that does not.
    """
    for part in section.split(";"):
        if not SECTION.match(part.strip()):
            raise ValueError(f"bad guideline section {part.strip()!r}")
    return "; ".join(p.strip() for p in section.split(";"))


def rows(
    name: str, columns: tuple[str, ...], text: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of ``cac/coding/data/<name>`` as (line number, column -> value); comment and
    blank lines skipped; ``text``, when given, is read instead of the packaged file.

    Raises:
        SourceError: naming the file and line of a row with the wrong number of fields.
    """
    if text is None:
        text = (resources.files("cac.coding") / "data" / name).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != len(columns):
            raise SourceError(
                f"{name}, line {number}: expected {len(columns)} tab-separated fields "
                f"({', '.join(columns)}), found {len(fields)}"
            )
        yield number, dict(zip(columns, fields, strict=True))


def load_table(
    name: str,
    columns: tuple[str, ...],
    build: Callable[[dict[str, str]], T],
    text: str | None = None,
) -> tuple[T, ...]:
    """Each row of a data file built into a rule record; ids must be unique.

    Raises:
        SourceError: naming the file and line of a row that ``build`` rejects (ValueError)
            or whose ``id`` repeats an earlier one.
    """
    out: list[T] = []
    seen: set[str] = set()
    for number, row in rows(name, columns, text):
        try:
            if "id" in row:
                if not re.match(r"^[a-z0-9_]+$", row["id"]):
                    raise ValueError(f"bad rule id {row['id']!r} (lower case, digits, _)")
                if row["id"] in seen:
                    raise ValueError(f"rule id {row['id']!r} is used twice")
                seen.add(row["id"])
            out.append(build(row))
        except ValueError as exc:
            raise SourceError(f"{name}, line {number}: {exc}") from None
    return tuple(out)
