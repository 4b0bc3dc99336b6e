"""CLI tests run against the real knowledge base under a CAC_HOME they set themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac.config import get_settings


@pytest.fixture(autouse=True)
def _home(real_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAC_HOME", str(real_home))
    get_settings.cache_clear()
