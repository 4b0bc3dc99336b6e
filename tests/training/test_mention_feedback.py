"""The tagger learns from coders too: confirmed evidence spans of an export's training notes
join its data as positive-only documents, and the version names the export (lineage)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from cac.exports.decisions import ExportedAddedCode, ExportedDecision, NoteRecord
from cac.feedback.audited import export_hash, is_holdout
from cac.nlp.mention_model import base_model_dir
from eval.brat import BratDoc
from training.mention_model import audited_mentions, encode, main

T = datetime(2026, 11, 27, tzinfo=UTC)
TEXT = "Admitted with community acquired pneumonia; appendectomy was performed."
TRAINING = next(f"enc-{i}" for i in range(100) if not is_holdout(f"enc-{i}"))
HELD = next(f"enc-{i}" for i in range(100) if is_holdout(f"enc-{i}"))


def record(note_id: int, external_id: str) -> NoteRecord:
    def added(system: str, code: str, span: tuple[int, int]) -> ExportedAddedCode:
        decision = ExportedDecision(
            id=1, sequence=1, action="add", final_system=system, final_code=code, coder="jane",
            created_at=T, reason=None, supersedes=None,
        )  # fmt: skip
        return ExportedAddedCode(
            id=1, system=system, code=code, description="", evidence=[span],
            status="accepted", decisions=[decision],
        )  # fmt: skip

    return NoteRecord(
        export_id="e", note_id=note_id, external_id=external_id, version=1, setting="inpatient",
        created_at=T, text_sha256="0" * 64, model={}, suggestions=[], text=TEXT,
        added=[added("icd10cm", "J18.9", (33, 42)), added("icd10pcs", "0DTJ4ZZ", (44, 56))],
    )  # fmt: skip


@pytest.fixture()
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.jsonl"
    path.write_text(record(1, TRAINING).to_json() + "\n" + record(2, HELD).to_json() + "\n")
    return path


def test_training_notes_become_positive_only_documents(export: Path) -> None:
    [doc] = audited_mentions([export])  # the hold-out note never trains
    assert doc.spans == [(33, 42, "DIAGNOSIS"), (44, 56, "PROCEDURE")]
    assert TEXT[33:42] == "pneumonia" and TEXT[44:56] == "appendectomy"

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()), local_files_only=True)
    [window] = encode(doc, tokenizer, positive_only=True)
    [full] = encode(BratDoc("x", TEXT, list(doc.spans)), tokenizer)
    assert 0 not in window["labels"] and 0 in full["labels"]  # no token is taught as "O"
    taught = [label for label in window["labels"] if label != -100]
    assert taught == [label for label in full["labels"] if label > 0]


def test_tagger_retrained_on_an_export_is_a_challenger_that_names_it(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_tagger_base: Path
) -> None:
    import mlflow
    from mlflow import MlflowClient

    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    base = tiny_tagger_base
    tiny = ["--base", str(base), "--out", str(tmp_path / "out"), "--no-bc5cdr", "--epochs", "1"]
    try:
        main([*tiny, "--max-docs", "1", "--max-steps", "1", "--skip-eval", "--export", str(export)])
        client = MlflowClient()
        version = client.get_model_version_by_alias("cac-mention-tagger", "challenger")
        params = client.get_run(version.run_id).data.params
    finally:
        mlflow.set_tracking_uri(previous)
    assert params["exports_sha256"] == export_hash([export])
    assert params["audited_docs"] == "1"
