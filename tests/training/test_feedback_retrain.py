"""Retraining on an export: audited notes become rows and memory, and the registered version
names the export's hash (lineage) under the alias ``challenger``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cac import registry
from cac.codesets.records import System
from cac.coding.lexicon import Lexicon, LexiconEntry
from cac.config import Settings, get_settings
from cac.exports.decisions import ExportedAddedCode, ExportedDecision, NoteRecord
from cac.feedback.audited import export_hash, is_holdout
from cac.kb.build import build
from cac.kb.store import KnowledgeBase
from cac.ranking.features import FEATURES
from cac.ranking.model import Ranker
from tests.conftest import mini_sources
from training.feedback import Base, retrain
from training.ranker import Rows

TRAINING = [f"enc-{i}" for i in range(100) if not is_holdout(f"enc-{i}")][:6]
HELD = next(f"enc-{i}" for i in range(100) if is_holdout(f"enc-{i}"))
T = datetime(2026, 11, 27, tzinfo=UTC)
TEXT = "Type 2 diabetes with a fall at home."


def synthetic_rows(seed: int) -> Rows:
    """Ten notes of twelve candidates each; the gold ones score high on 'heuristic'."""
    rng = np.random.default_rng(seed)
    n = 120
    y = (rng.random(n) < 0.2).astype(np.int32)
    x = rng.random((n, len(FEATURES))).astype(np.float32)
    x[:, FEATURES.index("heuristic")] += y
    docs = [f"d{i // 12}" for i in range(n)]
    codes = [f"C{i % 12}" for i in range(n)]
    return Rows(x, y, docs, codes, np.asarray([i // 12 % 5 for i in range(n)], np.int32), codes)


def record(note_id: int, external_id: str, text: str | None) -> NoteRecord:
    decision = ExportedDecision(
        id=note_id, sequence=1, action="add", final_system="icd10cm", final_code="E11.9",
        coder="jane", created_at=T, reason=None, supersedes=None,
    )  # fmt: skip
    added = ExportedAddedCode(
        id=note_id, system="icd10cm", code="E11.9", description="", evidence=[],
        status="accepted", decisions=[decision],
    )  # fmt: skip
    return NoteRecord(
        export_id="e", note_id=note_id, external_id=external_id, version=1, setting="inpatient",
        created_at=T, text_sha256="0" * 64, model={}, suggestions=[], added=[added], text=text,
    )  # fmt: skip


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KnowledgeBase]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("CAC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()
    settings = Settings(home=tmp_path / "home")
    build(settings, code_sets=mini_sources())
    kb = KnowledgeBase.open(settings.kb_dir)
    yield kb
    kb.close()
    mlflow.set_tracking_uri(previous)
    get_settings.cache_clear()


def test_retraining_registers_a_challenger_that_names_the_export(
    home: KnowledgeBase, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    export = tmp_path / "export.jsonl"
    records = [record(i + 1, ext, TEXT) for i, ext in enumerate(TRAINING)]
    records += [record(50, HELD, TEXT), record(51, "enc-no-text", None)]
    export.write_text("\n".join(r.to_json() for r in records) + "\n", encoding="utf-8")
    lexicon = Lexicon({"type 2 diabetes": (LexiconEntry(System.ICD10CM, "E119", 0.9, "kb"),)}, {})
    base = Base(
        notes=[("a fall at home", [(System.ICD10CM, "W19XXXA")])],
        lexicon=lexicon,
        priors={},
        rows={System.ICD10CM: synthetic_rows(1), System.ICD10PCS: synthetic_rows(2)},
        carries_linking=True,
    )

    result = retrain(home, [export], out=tmp_path / "out", base=base, tagger=False)

    assert result.audited_train_notes == len(TRAINING)  # hold-out and text-less notes left out
    assert result.lineage == export_hash([export])
    client = MlflowClient()
    version = client.get_model_version_by_alias("cac-ranker", "challenger")
    assert int(version.version) == result.version
    assert version.tags["data_sha256"] == export_hash([export])
    run = client.get_run(version.run_id)
    assert run.data.params["exports_sha256"] == export_hash([export])

    registered = Ranker.load(registry.version_path("cac-ranker", int(version.version)))
    assert registered.neighbours is not None  # the memory sub-folder is registered too
    assert registered.version == Ranker.load(result.out).version

    ranker = Ranker.load(result.out)
    assert ranker.neighbours is not None and len(ranker.neighbours) == 1 + len(TRAINING)
    assert ranker.meta["feedback"]["exports_sha256"] == result.lineage
    assert (result.out / "lexicon.json.gz").exists()  # the base's own lexicon travels with it
    votes = ranker.neighbours.votes(TEXT)
    assert votes[(System.ICD10CM, "E119")].votes == len(TRAINING)
