"""MLflow run tracking for every training entry point.

The tracking store is ``MLFLOW_TRACKING_URI`` when set, else a local SQLite file under
``CAC_HOME`` (``mlflow/mlflow.db``, artifacts beside it). Each run records its parameters,
metrics, the git commit of the code, a hash of its training data, and its report files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cac.config import get_settings

REPO = Path(__file__).parent.parent


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or the local SQLite store under ``CAC_HOME``."""
    configured = os.environ.get("MLFLOW_TRACKING_URI")
    if configured:
        return configured
    folder = (get_settings().home / "mlflow").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


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
