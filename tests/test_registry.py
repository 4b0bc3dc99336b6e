"""The model registry on a real MLflow store: a tiny tagger trained and registered twice by the
training entry point, listed and promoted with ``cac models``, resolved by ``Coder.load``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cac import registry
from cac.cli.main import app
from cac.config import Settings, get_settings
from cac.registry import MODEL_NAMES, list_models, promote, resolve

REPO = Path(__file__).parent.parent
NAME = MODEL_NAMES["mention"]
runner = CliRunner()


@dataclass(frozen=True)
class Store:
    uri: str
    fallback: Path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_tagger_base: Path) -> Iterator[Store]:
    """A SQLite store holding two versions of the tagger: 1 and then 2 optimizer steps."""
    import mlflow

    from training.mention_model import main

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    base = tiny_tagger_base
    previous_uri = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        for steps in (1, 2):
            tiny = ["--base", str(base), "--out", str(root / "out"), "--no-bc5cdr", "--epochs", "2"]
            main([*tiny, "--max-docs", "2", "--max-steps", str(steps), "--skip-eval"])
        yield Store(uri, root / "fallback")
    mlflow.set_tracking_uri(previous_uri)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``CAC_HOME`` at ``tmp_path`` (where the registry cache goes)."""
    monkeypatch.setenv("CAC_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_first_version_is_champion_and_list_shows_both(store: Store) -> None:
    result = runner.invoke(app, ["models", "list", "--json"])

    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)
    assert model["name"] == NAME
    versions = {v["version"]: v for v in model["versions"]}
    assert set(versions) == {1, 2}
    assert versions[1]["aliases"] == ["champion"] and versions[2]["aliases"] == []
    for v in versions.values():
        assert len(v["data_sha256"]) == 64 and v["git_commit"]
        assert "final_loss" in v["metrics"]


def test_list_table_keeps_names_and_aliases_whole_when_piped(store: Store) -> None:
    result = runner.invoke(app, ["models", "list"])  # not a terminal, as in a pipe

    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if NAME in line]
    assert len(rows) == 2  # one line per version: nothing wrapped onto a second line
    champion = next(r for r in rows if "champion" in r)
    assert "final_loss" in champion  # headline metrics on the same line


def test_version_carries_its_files_and_model_card(store: Store) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(store.uri)
    version = client.get_model_version(NAME, "2")
    folder = Path(registry._local_path(version.source) or "")

    assert version.description.startswith("# cac-mention-tagger")
    assert "(2 steps" in (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert {"config.json", "weights.int8.safetensors", "training_report.json"} <= {
        p.name for p in folder.iterdir()
    }


@pytest.mark.kb
def test_promote_moves_champion_and_the_coder_loads_it(store: Store, real_home: Path) -> None:
    from cac.pipeline import Coder

    try:
        # the tiny tagger cannot pass the evaluation gates (tests/feedback/test_gates.py)
        skip = ["--skip-gates", "--reason", "test: the tagger is tiny"]
        result = runner.invoke(app, ["models", "promote", NAME, "2", *skip])
        resolved = resolve("mention", store.fallback)
        coder = Coder.load(Settings(home=real_home).kb_dir)
        (model,) = list_models()
    finally:
        promote(NAME, 1)

    assert result.exit_code == 0, result.output
    assert [v.aliases for v in model.versions] == [(), ("champion",)]
    assert resolved.source == "registry" and resolved.version == f"{NAME} v2"
    assert "(2 steps" in (resolved.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert coder.model_info["mention_model_source"] == f"registry: {NAME} v2"
    assert coder.tagger is not None and coder.tagger.directory == resolved.path


def test_promote_unknown_version_or_model_fails_with_one_error_line(store: Store) -> None:
    version = runner.invoke(app, ["models", "promote", NAME, "9"])
    model = runner.invoke(app, ["models", "promote", "cac-nothing", "1"])

    assert version.exit_code == 1
    assert version.output == f"error: {NAME} has no version 9; its versions are 1, 2\n"
    assert model.exit_code == 1 and model.output.startswith("error: unknown model 'cac-nothing'")
    assert model.output.count("\n") == 1


def test_remote_artifacts_are_downloaded_once_into_the_cache(
    store: Store, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_local_path", lambda uri: None)  # as if on a remote store

    first = resolve("mention", store.fallback)
    (first.path / "config.json").unlink()  # a second resolve must not download again
    second = resolve("mention", store.fallback)

    assert first.path == home.resolve() / "registry-cache" / NAME / "1"
    assert second.path == first.path and not (second.path / "config.json").exists()
    assert (first.path / "weights.int8.safetensors").is_file()


def test_empty_store_falls_back_to_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    MlflowClient(uri).search_registered_models()  # creates the store's tables
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    resolved = resolve("mention", tmp_path / "fallback")

    assert resolved.source == "files" and resolved.path == tmp_path / "fallback"
    assert list_models() == []


def test_without_a_store_resolve_uses_files_and_never_imports_mlflow(home: Path) -> None:
    script = (
        "import sys\nfrom pathlib import Path\nfrom cac.registry import resolve\n"
        "r = resolve('mention', Path('fallback'))\n"
        "print(r.source, r.path, r.label, 'mlflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    default = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "CAC_HOME": str(home)},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    missing_file = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'absent.db'}"},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )

    assert default.stdout == "files fallback files False\n"
    assert missing_file.stdout == "files fallback files False\n"
    assert not (home / "mlflow").exists() and not (home / "absent.db").exists()
