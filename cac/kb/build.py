"""``cac kb build``: compile every code set into one versioned artifact.

The build writes into a fresh temporary directory beside the target and swaps it in only when
everything succeeded, so a failed build (missing or corrupt source) leaves the previous knowledge
base untouched. A build whose inputs (source files, loader code, format) are unchanged is skipped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from rich.progress import Progress

import cac
from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.codesets.registry import CodeSetSource, sources
from cac.config import Settings
from cac.errors import KnowledgeBaseError, SourceError
from cac.kb.manifest import Manifest, SourceFile, SystemManifest, file_sha256
from cac.kb.paths import FORMAT_VERSION, KBPaths
from cac.kb.schema import DDL, to_row
from cac.linking.tfidf import build_index

# Grouping nodes that are browsable but never a search hit.
NOT_INDEXED_KINDS = frozenset({"chapter", "block", "section", "body_system", "modifier"})
# The code that shapes the artifact: changing it must trigger a rebuild.
_CODE_MODULES = (
    "codesets",
    "kb/build.py",
    "kb/schema.py",
    "kb/paths.py",
    "kb/manifest.py",
    "linking/tfidf.py",
)


@dataclass(frozen=True)
class BuildResult:
    """What a build did: ``skipped`` when the inputs were unchanged."""

    manifest: Manifest
    skipped: bool
    path: Path


def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    package = Path(str(resources.files("cac")))
    for entry in _CODE_MODULES:
        target = package / entry
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for file in files:
            digest.update(file.relative_to(package).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _source_files(info: SourceInfo) -> list[SourceFile]:
    files = []
    for name in info.files:
        path = Path(name)
        if not path.is_file():
            raise SourceError(f"{info.system.value} source file not found: {path}")
        files.append(SourceFile(path=str(path), sha256=file_sha256(path)))
    return files


def inputs_hash(source_files: dict[System, list[SourceFile]]) -> str:
    """Hash of everything a build reads: format, loader code and source file contents."""
    digest = hashlib.sha256(f"format={FORMAT_VERSION};code={_code_fingerprint()}".encode())
    for system in sorted(source_files):
        for f in source_files[system]:
            digest.update(f"{system.value}:{f.sha256}".encode())
    return digest.hexdigest()


def _index_pairs(records: list[CodeRecord]) -> list[tuple[str, str]]:
    return [
        (alias, r.code)
        for r in records
        if r.active and r.kind not in NOT_INDEXED_KINDS
        for alias in (r.title, *r.synonyms)
    ]


def _check_unique(system: System, records: list[CodeRecord]) -> None:
    counts = Counter(r.code for r in records)
    duplicates = [code for code, n in counts.items() if n > 1]
    if duplicates:
        raise SourceError(
            f"{system.value}: {len(duplicates)} duplicate codes in the source, e.g. {duplicates[0]}"
        )


def build(
    settings: Settings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    code_sets: list[CodeSetSource] | None = None,
) -> BuildResult:
    """Build the knowledge base under ``settings.kb_dir`` unless it is already up to date.

    Args:
        settings: Where to build and which optional user files to read.
        force: Rebuild even when the inputs are unchanged.
        progress: A rich progress display to report to (the CLI passes one).
        code_sets: Override the configured sources (tests build from a mini code set).

    Raises:
        SourceError: a source file is missing or malformed; the previous artifact is kept.
    """
    started = time.perf_counter()
    target = KBPaths(settings.kb_dir)
    code_sets = code_sets if code_sets is not None else sources(settings)
    infos = {s.system: s.info() for s in code_sets}
    source_files = {system: _source_files(info) for system, info in infos.items()}
    wanted = inputs_hash(source_files)
    if not force and target.exists():
        try:
            current = Manifest.load(target.manifest)
        except KnowledgeBaseError:
            current = None
        if current is not None and current.inputs_hash == wanted:
            return BuildResult(manifest=current, skipped=True, path=target.root)

    target.root.parent.mkdir(parents=True, exist_ok=True)
    staging = KBPaths(target.root.parent / f".{target.root.name}.building")
    shutil.rmtree(staging.root, ignore_errors=True)
    staging.root.mkdir(parents=True)
    try:
        manifest = _build_into(staging, code_sets, infos, source_files, wanted, started, progress)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    _swap(staging.root, target.root)
    return BuildResult(manifest=manifest, skipped=False, path=target.root)


def _build_into(
    staging: KBPaths,
    code_sets: list[CodeSetSource],
    infos: dict[System, SourceInfo],
    source_files: dict[System, list[SourceFile]],
    wanted: str,
    started: float,
    progress: Progress | None,
) -> Manifest:
    content = hashlib.sha256()
    systems: dict[str, SystemManifest] = {}
    db = sqlite3.connect(staging.database)
    try:
        db.executescript(DDL)
        for source in code_sets:
            system = source.system
            task = progress.add_task(f"{system.value}: reading", total=None) if progress else None
            records = list(source.load())
            if not records:
                raise SourceError(f"{system.value}: the source yielded no codes")
            _check_unique(system, records)
            rows = [to_row(r) for r in records]
            for row in rows:
                content.update(json.dumps(row, ensure_ascii=False).encode())
            db.executemany(f"INSERT INTO codes VALUES ({', '.join('?' * 9)})", rows)
            if progress and task is not None:
                progress.update(task, description=f"{system.value}: indexing", total=3, completed=1)
            aliases = build_index(_index_pairs(records), staging.index_dir(system))
            content.update(staging.index_dir(system).joinpath("aliases.tsv").read_bytes())
            if progress and task is not None:
                progress.update(task, description=f"{system.value}: done", completed=3)
            info = infos[system]
            systems[system.value] = SystemManifest(
                source=info.name,
                version=info.version,
                files=source_files[system],
                records=len(records),
                billable=sum(r.billable for r in records),
                active=sum(r.active for r in records),
                inactive=sum(not r.active for r in records),
                demo=sum(r.demo for r in records),
                by_kind=dict(sorted(Counter(r.kind for r in records).items())),
                aliases_indexed=aliases,
            )
        db.execute("ANALYZE")  # statistics, so lookups by parent use their index
        db.commit()
    finally:
        db.close()
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        cac_version=cac.__version__,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 1),
        inputs_hash=wanted,
        content_hash=content.hexdigest(),
        systems=systems,
    )
    manifest.save(staging.manifest)
    return manifest


def _swap(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with two renames; the old one is deleted last."""
    retired = target.parent / f".{target.name}.old"
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
