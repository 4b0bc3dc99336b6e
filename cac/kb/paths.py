"""The files of a built knowledge base: one paths object, as for every artifact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cac.codesets.records import System

FORMAT_VERSION = 1


@dataclass(frozen=True)
class KBPaths:
    """Layout of a knowledge-base directory (``$CAC_HOME/kb``)."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "kb.sqlite"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def index_dir(self, system: System) -> Path:
        return self.root / "index" / system.value

    def exists(self) -> bool:
        return self.database.exists() and self.manifest.exists()
