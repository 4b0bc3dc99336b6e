"""The CodiEsp reader on the vendored data and on a broken layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac.errors import CacError
from eval.codiesp import DEFAULT_DIR, load_split, load_texts


def test_vendored_dev_split() -> None:
    dev = load_split(DEFAULT_DIR, "dev")
    assert len(dev.texts) == 250
    assert dev.gold_d["S0004-06142005000900016-1"][0] == "q62.11"
    assert all(code == code.lower() for codes in dev.gold_p.values() for code in codes)


def test_texts_are_read_without_gold(tmp_path: Path) -> None:
    (tmp_path / "test" / "text_files_en").mkdir(parents=True)
    (tmp_path / "test" / "text_files_en" / "doc1.txt").write_text("Fever.", encoding="utf-8")
    assert load_texts(tmp_path, "test") == {"doc1": "Fever."}  # no gold files needed


def test_bad_layout_and_split_names(tmp_path: Path) -> None:
    with pytest.raises(CacError, match="text_files_en"):
        load_texts(tmp_path, "dev")
    with pytest.raises(CacError, match="unknown CodiEsp split"):
        load_texts(DEFAULT_DIR, "validation")
