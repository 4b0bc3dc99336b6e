"""Building the knowledge base: manifest, skip on unchanged inputs, failure keeps the old one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cac.config import Settings
from cac.errors import SourceError
from cac.kb.build import build
from cac.kb.manifest import Manifest
from cac.kb.paths import KBPaths
from tests.conftest import MINI_ICD10CM, mini_sources


def test_build_writes_database_indexes_and_manifest(tmp_path: Path) -> None:
    result = build(Settings(home=tmp_path), code_sets=mini_sources())
    paths = KBPaths(tmp_path / "kb")
    assert not result.skipped and paths.database.exists()
    assert paths.index_dir(mini_sources()[0].system).joinpath("aliases.tsv").exists()
    manifest = Manifest.load(paths.manifest)
    cm = manifest.systems["icd10cm"]
    # E11.9, E11.65, S72.001A/D/S, W19.XXXA/S
    assert cm.billable == 7
    assert cm.by_kind["chapter"] == 3
    hcpcs = manifest.systems["hcpcs"]
    assert hcpcs.inactive == 1 and hcpcs.active == 2
    assert len(manifest.content_hash) == 64 and len(cm.files[0].sha256) == 64


def test_rerun_with_unchanged_inputs_does_nothing(tmp_path: Path) -> None:
    first = build(Settings(home=tmp_path), code_sets=mini_sources())
    again = build(Settings(home=tmp_path), code_sets=mini_sources())
    assert again.skipped and again.manifest == first.manifest
    forced = build(Settings(home=tmp_path), code_sets=mini_sources(), force=True)
    assert not forced.skipped
    assert forced.manifest.content_hash == first.manifest.content_hash


def test_changed_source_triggers_rebuild(tmp_path: Path) -> None:
    xml = tmp_path / "cm.xml"
    shutil.copy(MINI_ICD10CM, xml)
    home = tmp_path / "home"
    first = build(Settings(home=home), code_sets=mini_sources(xml))
    xml.write_text(
        MINI_ICD10CM.read_text().replace("Unspecified fall", "Unspecified fall (edited)"),
        encoding="utf-8",
    )
    second = build(Settings(home=home), code_sets=mini_sources(xml))
    assert not second.skipped
    assert second.manifest.content_hash != first.manifest.content_hash


def test_corrupt_source_fails_and_keeps_previous_artifact(tmp_path: Path) -> None:
    xml = tmp_path / "cm.xml"
    shutil.copy(MINI_ICD10CM, xml)
    home = tmp_path / "home"
    good = build(Settings(home=home), code_sets=mini_sources(xml))
    xml.write_text("<ICD10CM.tabular><chapter>", encoding="utf-8")
    with pytest.raises(SourceError, match="cm.xml"):
        build(Settings(home=home), code_sets=mini_sources(xml))
    kept = Manifest.load(KBPaths(home / "kb").manifest)
    assert kept.content_hash == good.manifest.content_hash
    assert not any(p.name.startswith(".kb") for p in home.iterdir())


def test_missing_source_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "gone.xml"
    with pytest.raises(SourceError, match="gone.xml"):
        build(Settings(home=tmp_path / "home"), code_sets=mini_sources(missing))
