"""The committed models match models/MANIFEST.json, and the check catches a changed file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from training import manifest


def test_committed_models_match_their_manifest() -> None:
    assert manifest.differences() == []


def test_a_changed_missing_or_unlisted_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "models"
    (root / "ranker").mkdir(parents=True)
    (root / "ranker" / "meta.json").write_text("{}")
    (root / "lexicon.json.gz").write_bytes(b"abc")
    (root / "README.md").write_text("not an artifact")
    (root / manifest.MANIFEST).write_text(json.dumps(manifest.build(root)))
    assert manifest.differences(root) == []

    (root / "ranker" / "meta.json").write_text('{"changed": true}')
    (root / "new.bin").write_bytes(b"x")
    (root / "lexicon.json.gz").unlink()
    assert manifest.differences(root) == [
        "new.bin: not in the manifest",
        "lexicon.json.gz: listed but missing",
        "ranker/meta.json: SHA-256 differs from the manifest",
    ]
    shutil.rmtree(root)
    assert "missing" in manifest.differences(root)[0]
