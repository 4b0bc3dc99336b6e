from __future__ import annotations

from pathlib import Path

import pytest

from training.tracking import data_hash, git_commit, tracked_run


def test_run_records_params_tags_metrics_and_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    report = tmp_path / "report.json"
    report.write_text("{}", encoding="utf-8")
    sha = data_hash(["doc one", "doc two"])
    with tracked_run("unit-test", {"epochs": 2}, sha) as run:
        run.log_metric("f1", 0.5)
        run.log_artifact(str(report))
        run_id = mlflow.active_run().info.run_id
    stored = mlflow.get_run(run_id)
    assert stored.data.params == {"epochs": "2"}
    assert stored.data.metrics == {"f1": 0.5}
    assert stored.data.tags["data_sha256"] == sha
    assert stored.data.tags["git_commit"] == git_commit()
    artifacts = [a.path for a in mlflow.MlflowClient(uri).list_artifacts(run_id)]
    assert artifacts == ["report.json"]


def test_data_hash_depends_on_content_and_order() -> None:
    assert data_hash(["a", "b"]) != data_hash(["b", "a"])
    assert data_hash(["ab"]) != data_hash(["a", "b"])
