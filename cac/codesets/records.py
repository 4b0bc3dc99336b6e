"""Typed, immutable records shared by every code-set loader."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from cac.errors import UnknownSystemError


class System(StrEnum):
    """The code systems cac knows. Values are the names used in the CLI and the API."""

    ICD10CM = "icd10cm"
    ICD10PCS = "icd10pcs"
    HCPCS = "hcpcs"
    CPT = "cpt"

    @classmethod
    def parse(cls, name: str) -> System:
        """Return the system named ``name`` (case-insensitive).

        Raises:
            UnknownSystemError: if the name is not ``icd10cm``, ``icd10pcs``, ``hcpcs`` or ``cpt``.
        """
        try:
            return cls(name.strip().lower())
        except ValueError:
            valid = ", ".join(s.value for s in cls)
            raise UnknownSystemError(f"unknown code system {name!r}; use one of: {valid}") from None


_STRIP = re.compile(r"[\s.]")


def normalize_code(code: str) -> str:
    """Canonical storage form: upper case, no ICD dot, no spaces (``e11.9`` -> ``E119``)."""
    return _STRIP.sub("", code).upper()


def display_code(system: System, code: str) -> str:
    """The conventional display form: ICD-10-CM gets its dot after the third character."""
    norm = normalize_code(code)
    if system is System.ICD10CM and len(norm) > 3:
        return f"{norm[:3]}.{norm[3:]}"
    return norm


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """One code (or one grouping node such as an ICD-10-CM chapter) of one system.

    ``code`` is stored normalised (see :func:`normalize_code`); chapters and blocks keep their
    own identifiers (``CH04``, ``E08-E13``). ``billable`` means a claim may carry the code;
    ``active`` is false for terminated codes, which are kept for history but never suggested.
    ``kind`` says what the node is (``chapter``, ``block``, ``category``, ``code``, ``modifier``,
    ``table``...). ``axes`` holds ICD-10-PCS axis values in order; ``attributes`` holds any other
    system-specific facts as sorted ``(name, value)`` pairs.
    """

    system: System
    code: str
    title: str
    kind: str = "code"
    billable: bool = True
    active: bool = True
    parent: str | None = None
    synonyms: tuple[str, ...] = ()
    excludes1: tuple[str, ...] = ()
    excludes2: tuple[str, ...] = ()
    code_first: tuple[str, ...] = ()
    use_additional: tuple[str, ...] = ()
    code_also: tuple[str, ...] = ()
    axes: tuple[tuple[str, str], ...] = ()
    demo: bool = False
    attributes: tuple[tuple[str, str], ...] = field(default=())

    @property
    def display(self) -> str:
        """The code as a coder writes it (``E11.9``)."""
        if self.kind in ("chapter", "block", "section"):
            return self.code
        return display_code(self.system, self.code)


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where a system's records came from: recorded in the knowledge-base manifest.

    ``files`` are the input files whose content hash decides whether a rebuild is needed.
    """

    system: System
    name: str
    version: str
    files: tuple[str, ...] = ()
