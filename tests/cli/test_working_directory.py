"""The venv's ``cac`` finds the same knowledge base and models from any working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cac.pipeline import Coder

REPO = Path(__file__).resolve().parents[2]
CAC = Path(sys.executable).parent / "cac"
NOTE = (
    "Admitted with community acquired pneumonia. History of type 2 diabetes mellitus and "
    "essential hypertension."
)
pytestmark = pytest.mark.kb


def test_cac_code_from_another_directory_gives_the_checkouts_result(
    tmp_path: Path, real_home: Path, real_coder: Coder
) -> None:
    if real_home.resolve() != REPO / "var":
        pytest.skip("CAC_HOME is not the checkout's var/, the default this test compares with")
    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CAC_HOME", "CAC_MODELS_DIR")}

    run = subprocess.run(
        [str(CAC), "code", "note.txt", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == real_coder.code(NOTE).to_json()
    assert not (tmp_path / "var").exists()
