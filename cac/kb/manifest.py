"""The knowledge-base manifest: source versions, file hashes, counts and a content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from cac.errors import KnowledgeBaseError


class SourceFile(BaseModel):
    """One input file and its SHA-256."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str


class SystemManifest(BaseModel):
    """What one code system contributed to the build."""

    model_config = ConfigDict(frozen=True)

    source: str
    version: str
    files: list[SourceFile]
    records: int
    billable: int
    active: int
    inactive: int
    demo: int
    by_kind: dict[str, int]
    aliases_indexed: int


class Manifest(BaseModel):
    """Top-level manifest written as ``manifest.json`` beside the database."""

    model_config = ConfigDict(frozen=True)

    format_version: int
    cac_version: str
    built_at: str
    build_seconds: float
    inputs_hash: str
    content_hash: str
    systems: dict[str, SystemManifest]

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest.

        Raises:
            KnowledgeBaseError: if it is missing or not a valid manifest.
        """
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KnowledgeBaseError(
                f"no knowledge base at {path.parent}; run 'cac kb build' (or 'make kb')"
            ) from None
        except (OSError, ValidationError) as exc:
            raise KnowledgeBaseError(
                f"knowledge-base manifest {path} is unreadable ({type(exc).__name__}); "
                "run 'cac kb build --force'"
            ) from None


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
