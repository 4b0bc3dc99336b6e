"""Shared fixtures: a mini knowledge base built from tiny sources, and the real one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cac.codesets import icd10cm
from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.codesets.registry import CodeSetSource
from cac.config import Settings
from cac.kb.build import build
from cac.kb.store import KnowledgeBase
from cac.pipeline import Coder

FIXTURES = Path(__file__).parent / "fixtures"
MINI_ICD10CM = FIXTURES / "mini_icd10cm.xml"
REPO = Path(__file__).parent.parent

# The throwaway PostgreSQL server fixture for the service and database tests; tiny random BERTs
# (tiny_tagger_base, tiny_encoder_base) for the model tests.
pytest_plugins = ["tests.postgres", "tests.tiny_bert"]


def _mini_hcpcs() -> Iterator[CodeRecord]:
    yield CodeRecord(System.HCPCS, "E", "Durable medical equipment", kind="section", billable=False)
    yield CodeRecord(System.HCPCS, "E0110", "Crutches, forearm, pair", parent="E")
    yield CodeRecord(
        System.HCPCS, "E0111", "Crutch, forearm, each", parent="E", active=False, billable=False
    )


def mini_sources(xml: Path = MINI_ICD10CM) -> list[CodeSetSource]:
    """ICD-10-CM from the mini XML plus a three-record HCPCS set."""
    return [
        CodeSetSource(
            System.ICD10CM,
            lambda: icd10cm.load(xml),
            lambda: SourceInfo(System.ICD10CM, "mini", "test", (str(xml),)),
        ),
        CodeSetSource(
            System.HCPCS,
            _mini_hcpcs,
            lambda: SourceInfo(System.HCPCS, "mini", "test", (str(xml),)),
        ),
    ]


@pytest.fixture
def mini_kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    settings = Settings(home=tmp_path)
    build(settings, code_sets=mini_sources())
    kb = KnowledgeBase.open(settings.kb_dir)
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def real_home() -> Path:
    """CAC_HOME with the real knowledge base, built once (a rerun with unchanged inputs is a no-op)."""
    home = Path(os.environ.get("CAC_HOME", REPO / "var"))
    build(Settings(home=home))
    return home


@pytest.fixture(scope="session")
def real_kb(real_home: Path) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(Settings(home=real_home).kb_dir)
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def real_coder(real_home: Path) -> Coder:
    """The real pipeline, loaded once for the session (several seconds, ~0.5 GB)."""
    return Coder.load(real_home / "kb")
