"""MLflow run tracking for every training entry point.

The tracking store is ``MLFLOW_TRACKING_URI`` when set, else a local SQLite file under
``CAC_HOME`` (``mlflow/mlflow.db``, artifacts beside it). Each run records its parameters,
metrics, the git commit of the code, a hash of its training data, and its report files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cac import registry
from cac.registry import git_commit as git_commit

REPO = Path(__file__).parent.parent


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or the local SQLite store under ``CAC_HOME`` (its folder created).

    The same store ``cac.registry`` registers models in and resolves them from.
    """
    uri = registry.tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def data_hash(parts: Iterable[str]) -> str:
    """SHA-256 over the training inputs, in a fixed order."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@contextmanager
def tracked_run(experiment: str, params: dict[str, Any], data_sha256: str) -> Iterator[Any]:
    """An MLflow run with the standard tags; yields the ``mlflow`` module for logging."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        artifacts = Path(uri.removeprefix("sqlite:///")).parent / "artifacts"
        if mlflow.get_experiment_by_name(experiment) is None:
            mlflow.create_experiment(experiment, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run():
        mlflow.set_tags({"git_commit": git_commit(), "data_sha256": data_sha256})
        mlflow.log_params(params)
        yield mlflow
