"""Map product codes (current, billable FY2026) to the CodiEsp benchmark's code conventions.

This lives in the evaluation, not the product, and it never looks at the gold of the split being
scored: its only inputs are the knowledge base and the *train* gold (our own split).

ICD-10-CM (D), in order:
1. 7th character: CodiEsp gold writes most injury / external-cause codes without their 7th
   character (``w19.xxx``, ``s72.001``) but keeps it in some categories (``s22.49xa``). For each
   3-character category we follow what train shows (keep the 7th character only where train has
   more 7-character than 6-character codes of that category); unseen categories drop it.
   Where train writes an FY2018 placeholder form of a code since expanded (``t81.4xx`` for today's
   ``T81.40XA``), that form is used.
2. Expansions since FY2018: when a code's parent is not billable today but train uses the parent
   as a code (``r51``, ``m54.5``, ``r05``), the parent was a billable FY2018 code and the product
   code is one of its later expansions, so we map up to the parent (repeatedly).
ICD-10-PCS (P): lower-cased as is; the product already emits 4-character partial codes where the
note does not state approach or device.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from cac.codesets.records import System, display_code
from cac.kb.store import KnowledgeBase


def _dotless(code: str) -> str:
    return code.replace(".", "").upper()


class Crosswalk:
    """Deterministic product -> CodiEsp code mapping, learned from the knowledge base and train."""

    def __init__(self, kb: KnowledgeBase, train_d: Iterable[str]) -> None:
        self.kb = kb
        self.train_d = {_dotless(c) for c in train_d}
        lengths: Counter[tuple[str, int]] = Counter(
            (c[:3], len(c)) for c in self.train_d if len(c) >= 6
        )
        self.keep_seventh = {
            cat for (cat, n), count in lengths.items() if n == 7 and count > lengths[(cat, 6)]
        }

    def d(self, code: str) -> str:
        """ICD-10-CM product code -> CodiEsp form (lower case, dotted)."""
        current = _dotless(code)
        record = self.kb.get(System.ICD10CM, current)
        seventh = record is not None and "seventh_character" in dict(record.attributes)
        if seventh and current[:3] not in self.keep_seventh:
            current = self._placeholder_form(current[:-1])
        while True:
            parent = self.kb.get(System.ICD10CM, current[:-1]) if len(current) > 3 else None
            if parent is None or parent.billable or parent.code not in self.train_d:
                break
            current = parent.code
        return display_code(System.ICD10CM, current).lower()

    def _placeholder_form(self, six: str) -> str:
        """``T8140X`` -> ``T814XX`` when train writes the FY2018 placeholder form instead."""
        if six in self.train_d:
            return six
        stem = six.rstrip("X")
        while len(stem) > 3:
            stem = stem[:-1]
            padded = stem + "X" * (6 - len(stem))
            if padded in self.train_d:
                return padded
        return six

    @staticmethod
    def p(code: str) -> str:
        """ICD-10-PCS product code -> CodiEsp form (lower case)."""
        return _dotless(code).lower()
