"""The MLflow model registry of cac's models: register, resolve the champion, list, promote.

Each model kind is one registered model (``MODEL_NAMES``). A training run registers a new version
of it: the model's files, a model card, the training data hash, the git commit and key metrics.
The ``champion`` alias names the version the service loads; without a tracking store, or without
a champion, the committed files under ``models/`` are used. The store is ``MLFLOW_TRACKING_URI``,
else ``$CAC_HOME/mlflow/mlflow.db``. MLflow is imported only when a store exists (importing it
takes seconds).

``promote`` moves an alias as asked; ``cac.feedback.gates`` decides whether a version may become
``champion`` and records its figures here as ``eval.*`` version tags (``log_run``, ``tag_version``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

from cac.config import get_settings
from cac.errors import CacError, NotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

logger = logging.getLogger(__name__)

MODEL_NAMES: dict[str, str] = {
    "mention": "cac-mention-tagger",
    "biencoder": "cac-biencoder",
    "ranker": "cac-ranker",
}
CHAMPION = "champion"
CHALLENGER = "challenger"  # a retrained version awaiting the gates
ARTIFACT_PATH = "model"
MODEL_CARD = "MODEL_CARD.md"
FLOAT_WEIGHTS = "model.safetensors"
COMPACT = "weights.int8.safetensors"
_METRIC_TAG = "metric."
EVAL_TAG = "eval."  # figures of ``cac models evaluate`` (cac.feedback.gates)
EVAL_SET_TAG = "eval_set.sha256"  # ... and the evaluation sets they were measured on
# Model-version descriptions are VARCHAR(5000) in MLflow's SQL stores; the full card is an artifact.
_DESCRIPTION_CHARS = 4000
_REPO = Path(__file__).parent.parent


class RegistryError(CacError):
    """The model registry cannot be read or written."""


class UnknownModelError(NotFoundError):
    """A model kind, registered model or version that does not exist."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a model from, and which version it is."""

    path: Path
    version: str  # "cac-mention-tagger v3", or "files"
    source: Literal["registry", "files"]

    @property
    def label(self) -> str:
        """``registry: cac-mention-tagger v3`` or ``files``, for ``model`` in coding results."""
        return f"registry: {self.version}" if self.source == "registry" else "files"


@dataclass(frozen=True)
class ModelVersionInfo:
    version: int
    aliases: tuple[str, ...]
    created: datetime
    data_sha256: str
    git_commit: str
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, float] = field(default_factory=dict)  # ``eval.*`` tags
    eval_set_sha256: str = ""


@dataclass(frozen=True)
class RegisteredModelInfo:
    name: str
    versions: tuple[ModelVersionInfo, ...]


def default_store() -> Path:
    """The local SQLite tracking store: ``$CAC_HOME/mlflow/mlflow.db``."""
    return (get_settings().home / "mlflow" / "mlflow.db").resolve()


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or the local SQLite store under ``CAC_HOME`` (nothing is created)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{default_store()}"


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=_REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def register(
    kind: str, directory: Path, *, metrics: dict[str, float], data_sha256: str, model_card: str
) -> int:
    """Log ``directory`` as the active run's ``model`` artifacts and register them as a version.

    The version is tagged with ``data_sha256``, the run's git commit and ``metrics`` (as
    ``metric.<name>``); its description is the model card (also logged as
    ``model/MODEL_CARD.md``). The first version of a model becomes its ``champion``.

    Returns:
        The new version number.

    Raises:
        UnknownModelError: for a kind not in ``MODEL_NAMES``.
        RegistryError: without an active MLflow run, or if ``directory`` is not a folder.
    """
    import mlflow

    name = _name(kind)
    run = mlflow.active_run()
    if run is None:
        raise RegistryError("register() needs an active MLflow run (training.tracking.tracked_run)")
    if not directory.is_dir():
        raise RegistryError(f"model folder {directory} does not exist")
    for path in sorted(directory.iterdir()):
        # The float weights stay out when the committed int8 file is there (it is what loads).
        if path.is_file() and not (path.name == FLOAT_WEIGHTS and (directory / COMPACT).exists()):
            mlflow.log_artifact(str(path), artifact_path=ARTIFACT_PATH)
        elif path.is_dir():  # e.g. the ranker's coded-note memory, neighbours/
            mlflow.log_artifacts(str(path), artifact_path=f"{ARTIFACT_PATH}/{path.name}")
    mlflow.log_text(model_card, f"{ARTIFACT_PATH}/{MODEL_CARD}")
    client = _client(mlflow.get_tracking_uri())
    if _registered(client, name) is None:
        client.create_registered_model(name, description=f"cac {kind} model")
    tags = {
        "data_sha256": data_sha256,
        "git_commit": client.get_run(run.info.run_id).data.tags.get("git_commit") or git_commit(),
        **{_METRIC_TAG + key: repr(float(value)) for key, value in metrics.items()},
    }
    version = client.create_model_version(
        name,
        source=mlflow.get_artifact_uri(ARTIFACT_PATH),
        run_id=run.info.run_id,
        tags=tags,
        description=model_card[:_DESCRIPTION_CHARS],
    )
    if CHAMPION not in client.get_registered_model(name).aliases:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    logger.info("registered %s version %s (run %s)", name, version.version, run.info.run_id)
    return int(version.version)


def resolve(kind: str, fallback: Path) -> ResolvedModel:
    """The ``champion`` version's files when the registry has one, else ``fallback``.

    Never raises for a missing, empty or unreachable store: it falls back to the files and logs
    which was used. MLflow is not imported when there is no store.
    """
    name = _name(kind)
    files = ResolvedModel(fallback, "files", "files")
    uri = tracking_uri()
    if not _store_exists(uri):
        logger.info("%s model: no registry store; using files in %s", kind, fallback)
        return files
    try:
        found = _champion(name, uri)
    except Exception as exc:  # any registry failure must leave the service on its files
        logger.warning(
            "%s model: registry unavailable (%s); using files in %s",
            kind,
            type(exc).__name__,
            fallback,
        )
        return files
    if found is None:
        logger.info(
            "%s model: no %s alias for %s; using files in %s", kind, CHAMPION, name, fallback
        )
        return files
    logger.info("%s model: %s from the registry (%s)", kind, found.version, found.path)
    return found


def list_models() -> list[RegisteredModelInfo]:
    """cac's registered models in the store, versions oldest first; none without a store.

    Raises:
        RegistryError: if the store cannot be read.
    """
    uri = tracking_uri()
    if not _store_exists(uri):
        return []
    from mlflow.exceptions import MlflowException

    out = []
    try:
        client = _client(uri)
        for name in MODEL_NAMES.values():
            model = _registered(client, name)
            if model is None:
                continue
            by_version: dict[str, list[str]] = {}
            for alias, version in model.aliases.items():
                by_version.setdefault(str(version), []).append(alias)
            versions = client.search_model_versions(f"name = '{name}'")
            infos = [_version_info(v, by_version) for v in versions]
            out.append(RegisteredModelInfo(name, tuple(sorted(infos, key=lambda v: v.version))))
    except MlflowException as exc:
        raise RegistryError(f"cannot read the model registry ({exc.error_code})") from None
    return out


def promote(name: str, version: int, alias: str = CHAMPION) -> None:
    """Point ``alias`` of model ``name`` (registered name or kind) at ``version``.

    Raises:
        UnknownModelError: for an unknown model or version.
        RegistryError: without a store, or for an alias MLflow rejects.
    """
    from mlflow.exceptions import MlflowException

    name, client = _checked(name, version)
    try:
        client.set_registered_model_alias(name, alias, str(version))
    except MlflowException as exc:
        message = str(exc.message).splitlines()[0] if exc.message else exc.error_code
        raise RegistryError(f"cannot set alias {alias!r}: {message}") from None
    logger.info("%s alias %s -> version %s", name, alias, version)


def model_name(name_or_kind: str) -> str:
    """The registered name of a model given by registered name or kind.

    Raises:
        UnknownModelError: for anything else.
    """
    name = MODEL_NAMES.get(name_or_kind, name_or_kind)
    if name not in MODEL_NAMES.values():
        raise UnknownModelError(
            f"unknown model {name!r}; use one of: {', '.join(MODEL_NAMES.values())}"
        )
    return name


def kind_of(name: str) -> str:
    """The kind (``mention``, ``biencoder``, ``ranker``) of a registered name or kind."""
    name = model_name(name)
    return next(kind for kind, registered in MODEL_NAMES.items() if registered == name)


def champion_version(name: str) -> int | None:
    """The version the ``champion`` alias of model ``name`` points at; None without one (or
    without a store).

    Raises:
        UnknownModelError: for an unknown model.
        RegistryError: if the store cannot be read.
    """
    name = model_name(name)
    uri = tracking_uri()
    if not _store_exists(uri):
        return None
    from mlflow.exceptions import MlflowException

    try:
        model = _registered(_client(uri), name)
    except MlflowException as exc:
        raise RegistryError(f"cannot read the model registry ({exc.error_code})") from None
    if model is None or CHAMPION not in model.aliases:
        return None
    return int(model.aliases[CHAMPION])


def version_path(name: str, version: int) -> Path:
    """The local folder of one version's files (downloaded once from a remote store).

    Raises:
        UnknownModelError: for an unknown model or version.
        RegistryError: without a store.
    """
    name, client = _checked(name, version)
    return _version_dir(client, name, str(version), tracking_uri())


def _checked(name: str, version: int) -> tuple[str, MlflowClient]:
    """The registered name and a client, once the version is known to exist."""
    name = model_name(name)
    client = _store_client()
    _check_version(client, name, version)
    return name, client


def version_tags(name: str, version: int) -> dict[str, str]:
    """The tags of one version.

    Raises:
        UnknownModelError: for an unknown model or version.
        RegistryError: without a store.
    """
    name, client = _checked(name, version)
    return dict(client.get_model_version(name, str(version)).tags or {})


def tag_version(
    name: str, version: int, tags: dict[str, str], *, replace_prefix: str | None = None
) -> None:
    """Set tags on one version (e.g. its evaluation figures, ``eval.*``).

    Args:
        name: registered name or kind.
        version: the version number.
        tags: the tags to set.
        replace_prefix: also delete the version's tags with this prefix that ``tags`` lacks
            (figures of an earlier evaluation that this one did not measure).

    Raises:
        UnknownModelError: for an unknown model or version.
        RegistryError: without a store.
    """
    name, client = _checked(name, version)
    if replace_prefix is not None:
        for key in client.get_model_version(name, str(version)).tags or {}:
            if key.startswith(replace_prefix) and key not in tags:
                client.delete_model_version_tag(name, str(version), key)
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)


def check_version(name: str, version: int) -> str:
    """The registered name of model ``name`` (registered name or kind) if it has ``version``.

    Raises:
        UnknownModelError: for an unknown model or version.
        RegistryError: without a store.
    """
    name, _ = _checked(name, version)
    return name


def log_run(
    experiment: str, *, params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]
) -> str:
    """Record a finished run (no artifacts) in ``experiment`` of the store, with the git commit.

    Used for decisions about versions (evaluations, promotions) rather than training runs.

    Returns:
        The run id.

    Raises:
        RegistryError: without a store, or if MLflow rejects the run.
    """
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    client = _store_client()
    uri = tracking_uri()
    now = int(datetime.now(UTC).timestamp() * 1000)
    try:
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            # As training.tracking does: a SQLite store keeps its artifacts beside it.
            artifacts = (
                (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
                if uri.startswith("sqlite:///")
                else None
            )
            experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
        run = client.create_run(experiment_id, tags={"git_commit": git_commit(), **tags})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
            params=[Param(key, value) for key, value in params.items()],
            tags=[RunTag("mlflow.source.name", "cac")],
        )
        client.set_terminated(run.info.run_id)
    except MlflowException as exc:
        message = str(exc.message).splitlines()[0] if exc.message else exc.error_code
        raise RegistryError(f"cannot record the {experiment} run: {message}") from None
    return str(run.info.run_id)


def _store_client() -> MlflowClient:
    uri = tracking_uri()
    if not _store_exists(uri):
        raise RegistryError(
            f"no model registry at {_describe(uri)}; register models with 'make train'"
        )
    return _client(uri)


def _check_version(client: MlflowClient, name: str, version: int) -> None:
    if _registered(client, name) is None:
        raise UnknownModelError(
            f"model {name!r} has no registered versions; train it with 'make train'"
        )
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))
    if version not in versions:
        known = ", ".join(map(str, versions))
        raise UnknownModelError(f"{name} has no version {version}; its versions are {known}")


def _name(kind: str) -> str:
    try:
        return MODEL_NAMES[kind]
    except KeyError:
        raise UnknownModelError(
            f"unknown model kind {kind!r}; use one of: {', '.join(MODEL_NAMES)}"
        ) from None


def _store_exists(uri: str) -> bool:
    """False only when the store is a local file or folder that is not there; remote: try it."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()
    local = _local_path(uri)
    return local.is_dir() if local is not None else True


def _local_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI or a plain path; None for any other scheme."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme == "" and uri:
        return Path(uri)
    return None


def _describe(uri: str) -> str:
    """The store for messages: a path, or scheme and host without credentials."""
    if uri.startswith("sqlite:///"):
        return uri.removeprefix("sqlite:///")
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}" if parts.scheme else uri


def _client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _registered(client: MlflowClient, name: str) -> RegisteredModel | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _champion(name: str, uri: str) -> ResolvedModel | None:
    client = _client(uri)
    model = _registered(client, name)
    if model is None or CHAMPION not in model.aliases:
        return None
    version = str(model.aliases[CHAMPION])
    return ResolvedModel(_version_dir(client, name, version, uri), f"{name} v{version}", "registry")


def _version_dir(client: MlflowClient, name: str, version: str, uri: str) -> Path:
    """The artifact folder itself on a local store, else a download into the cache."""
    source = client.get_model_version_download_uri(name, version)
    local = _local_path(source)
    return local if local is not None and local.is_dir() else _download(name, version, source, uri)


def _download(name: str, version: str, source: str, uri: str) -> Path:
    """A remote version's artifacts, downloaded once into ``$CAC_HOME/registry-cache``."""
    import mlflow

    target = (get_settings().home / "registry-cache" / name / version).resolve()
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        downloaded = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(partial), tracking_uri=uri
        )  # partial/model/...
        os.replace(downloaded, target)  # whole or not at all
    except OSError:
        if not target.is_dir():  # else another process finished the same download first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _version_info(version: ModelVersion, aliases: dict[str, list[str]]) -> ModelVersionInfo:
    tags: dict[str, str] = dict(version.tags or {})
    metrics = {
        key.removeprefix(_METRIC_TAG): float(value)
        for key, value in tags.items()
        if key.startswith(_METRIC_TAG)
    }
    evaluation = {}
    for key, value in tags.items():
        if key.startswith(EVAL_TAG):
            try:
                evaluation[key.removeprefix(EVAL_TAG)] = float(value)
            except ValueError:  # a non-figure eval tag
                continue
    return ModelVersionInfo(
        version=int(version.version),
        aliases=tuple(sorted(aliases.get(str(version.version), []))),
        created=datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC),
        data_sha256=tags.get("data_sha256", ""),
        git_commit=tags.get("git_commit", ""),
        metrics=metrics,
        evaluation=evaluation,
        eval_set_sha256=tags.get(EVAL_SET_TAG, ""),
    )
