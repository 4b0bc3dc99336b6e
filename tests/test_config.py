"""Settings: CAC_HOME and CAC_MODELS_DIR resolve to the same absolute places from any working
directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac import config
from cac.config import Settings
from cac.model_files import ModelFiles

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory outside the repository, with no CAC_* settings."""
    for name in ("CAC_HOME", "CAC_MODELS_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_in_a_checkout_the_defaults_are_its_var_and_models_wherever_one_runs(
    elsewhere: Path,
) -> None:
    settings = Settings()

    assert settings.home == REPO / "var"
    assert settings.kb_dir == REPO / "var" / "kb"
    assert settings.database == f"sqlite:///{REPO / 'var' / 'cac.sqlite3'}"
    assert settings.models == REPO / "models"
    assert ModelFiles.configured().lexicon.is_file()


def test_an_installed_package_defaults_to_the_user_data_folder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "source_checkout", lambda: None)
    monkeypatch.setenv("HOME", str(elsewhere / "user"))

    assert Settings().home == elsewhere / "user" / ".local" / "share" / "cac"
    assert Settings().models == elsewhere / "user" / ".local" / "share" / "cac" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", str(elsewhere / "data"))
    assert Settings().home == elsewhere / "data" / "cac"


def test_settings_name_other_places_and_relative_ones_are_made_absolute_once(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAC_HOME", "state")
    monkeypatch.setenv("CAC_MODELS_DIR", "~/cac-models")
    monkeypatch.setenv("HOME", str(elsewhere / "user"))

    settings = Settings()
    monkeypatch.chdir(REPO)

    assert settings.home == elsewhere / "state"
    assert settings.kb_dir == elsewhere / "state" / "kb"
    assert settings.models == elsewhere / "user" / "cac-models"
