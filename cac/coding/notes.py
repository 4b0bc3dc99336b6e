"""The tabular list's instructional notes of a code and its ancestors, as code patterns:
Excludes1 (:mod:`cac.coding.excludes`), code first and use additional code (sequencing and
pairing in :mod:`cac.coding.conventions`).

The notes name codes in parentheses ("type 2 diabetes mellitus (E11.-)", "(K80.0-K80.1)",
"(I15.0, I15.1)"); notes of blocks and chapters apply to every code below them.
"""

from __future__ import annotations

import re

from cac.codesets.records import System
from cac.coding.rules import CodePattern
from cac.kb.store import KnowledgeBase

_PARENS = re.compile(r"\(([^()]*)\)")
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_RANGE = re.compile(rf"^({_CODE})\.?-?\s*-\s*({_CODE})\.?-?$")
_ONE = re.compile(rf"^({_CODE})(\.?-)?$")
FIELDS = ("excludes1", "code_first", "use_additional", "code_also")
# (code, field) entries kept between notes; a category's chain is a handful of records.
CACHED = 50_000
_DEPTH = 12


def references(note: str) -> tuple[CodePattern, ...]:
    """The code patterns an instructional note names in parentheses; each covers the codes
    below it (``E11.-``, ``I15.0``), and ``K80.0-K80.1`` is a range."""
    out = []
    for group in _PARENS.findall(note):
        for piece in group.upper().split(","):
            piece = piece.strip()
            if m := _RANGE.match(piece):
                text = f"{m.group(1)}-{m.group(2)}"
            elif m := _ONE.match(piece):
                text = m.group(1) + "-"  # a named code covers the codes below it
            else:
                continue  # prose in parentheses
            try:
                out.append(CodePattern.parse(text))
            except ValueError:
                continue
    return tuple(out)


class TabularNotes:
    """Reads a code's notes and its ancestors' once, then answers from a bounded cache."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._refs: dict[tuple[str, str], tuple[CodePattern, ...]] = {}
        self._texts: dict[tuple[str, str], tuple[str, ...]] = {}

    def texts(self, code: str, field: str) -> tuple[str, ...]:
        """The ``field`` notes of ``code`` (normalised) and its ancestors, as written."""
        key = (code, field)
        if key not in self._texts:
            if len(self._texts) > CACHED:
                self._texts = {}
            found: list[str] = []
            node = self.kb.get(System.ICD10CM, code)
            depth = 0
            while node is not None and depth < _DEPTH:
                found.extend(getattr(node, field))
                node = self.kb.get(System.ICD10CM, node.parent) if node.parent else None
                depth += 1
            self._texts[key] = tuple(found)
        return self._texts[key]

    def references(self, code: str, field: str) -> tuple[CodePattern, ...]:
        """Code patterns the ``field`` notes of ``code`` (normalised) and its ancestors name."""
        key = (code, field)
        if key not in self._refs:
            if len(self._refs) > CACHED:
                self._refs = {}
            self._refs[key] = tuple(p for note in self.texts(code, field) for p in references(note))
        return self._refs[key]
