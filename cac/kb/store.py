"""Read access to a built knowledge base: records by code, children, and the search indexes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cac.codesets.records import CodeRecord, System, display_code, normalize_code
from cac.errors import KnowledgeBaseError, UnknownCodeError
from cac.kb.manifest import Manifest
from cac.kb.paths import FORMAT_VERSION, KBPaths
from cac.kb.schema import COLUMNS, from_row

if TYPE_CHECKING:
    # Loads scikit-learn and scispaCy; only searches need it, not lookups.
    from cac.linking.tfidf import TfidfIndex


class KnowledgeBase:
    """A loaded knowledge base. Thread-safe for reads; indexes load on first use per system."""

    def __init__(self, paths: KBPaths, manifest: Manifest) -> None:
        self.paths = paths
        self.manifest = manifest
        self._db = sqlite3.connect(
            f"file:{paths.database}?mode=ro", uri=True, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._indexes: dict[System, TfidfIndex] = {}

    @classmethod
    def open(cls, root: Path) -> KnowledgeBase:
        """Open the knowledge base in ``root``.

        Raises:
            KnowledgeBaseError: if none is built there or it has an older format.
        """
        paths = KBPaths(root)
        manifest = Manifest.load(paths.manifest)
        if manifest.format_version != FORMAT_VERSION or not paths.database.exists():
            raise KnowledgeBaseError(
                f"knowledge base at {root} is from another cac version; run 'cac kb build --force'"
            )
        return cls(paths, manifest)

    @property
    def systems(self) -> list[System]:
        return [System(name) for name in self.manifest.systems]

    def get(self, system: System, code: str) -> CodeRecord | None:
        """The record for ``code`` (any case, with or without the ICD dot), or None."""
        raw = code.strip()
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM codes WHERE system = ? AND code IN (?, ?, ?)",
                (system.value, raw, raw.upper(), normalize_code(raw)),
            ).fetchall()
        return from_row(rows[0]) if rows else None

    def get_many(self, system: System, codes: list[str]) -> dict[str, CodeRecord]:
        """Records for exact stored codes, in one query; unknown codes are absent."""
        if not codes:
            return {}
        marks = ", ".join("?" * len(codes))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM codes WHERE system = ? AND code IN ({marks})",
                (system.value, *codes),
            ).fetchall()
        return {r.code: r for r in map(from_row, rows)}

    def records(self) -> Iterator[CodeRecord]:
        """Every record of every system, in (system, code) order."""
        with self._lock:
            rows = self._db.execute(f"SELECT {COLUMNS} FROM codes ORDER BY system, code").fetchall()
        return map(from_row, rows)

    def range(self, system: System, first: str, last: str) -> list[CodeRecord]:
        """Every record of ``system`` whose stored code sorts in ``[first, last)`` (``S00`` to
        ``T15``: Chapter 19's site-by-site injuries), in code order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM codes WHERE system = ? AND code >= ? AND code < ? "
                "ORDER BY code",
                (system.value, first, last),
            ).fetchall()
        return [from_row(r) for r in rows]

    def lookup(self, system: System, code: str) -> CodeRecord:
        """Like :meth:`get`, but raises for an unknown code.

        Raises:
            UnknownCodeError: naming the code and system.
        """
        record = self.get(system, code)
        if record is None:
            raise UnknownCodeError(
                f"{display_code(system, code)} is not a code of {system.value} "
                "in this knowledge base"
            )
        return record

    def children(self, system: System, code: str) -> list[CodeRecord]:
        """Direct children of a node, in code order."""
        with self._lock:
            rows = self._db.execute(
                # Sorted here: ORDER BY in SQL can lead the planner to scan the primary key.
                f"SELECT {COLUMNS} FROM codes INDEXED BY codes_parent "
                "WHERE system = ? AND parent = ?",
                (system.value, code),
            ).fetchall()
        return sorted((from_row(r) for r in rows), key=lambda r: r.code)

    def billable_descendants(self, system: System, code: str, limit: int = 50) -> list[CodeRecord]:
        """Billable, active codes below ``code``, breadth first, at most ``limit``."""
        found: list[CodeRecord] = []
        frontier = [code]
        while frontier and len(found) < limit:
            nxt: list[str] = []
            for parent in frontier:
                for child in self.children(system, parent):
                    if child.billable and child.active:
                        found.append(child)
                    nxt.append(child.code)
            frontier = nxt
        return found[:limit]

    def index(self, system: System) -> TfidfIndex:
        """The TF-IDF index of one system, loaded once."""
        from cac.linking.tfidf import TfidfIndex

        with self._lock:
            if system not in self._indexes:
                self._indexes[system] = TfidfIndex.load(self.paths.index_dir(system))
            return self._indexes[system]

    def load_indexes(self) -> None:
        """Load every system's index now (servers do this at start-up)."""
        for system in self.systems:
            self.index(system)

    def close(self) -> None:
        self._db.close()
