"""``cac --help`` and ``cac <group> --help`` start without loading the NLP, ML or Spark stacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Imported only inside the commands that need them.
HEAVY = (
    "spacy",
    "scispacy",
    "thinc",
    "torch",
    "transformers",
    "lightgbm",
    "mlflow",
    "pyspark",
    "sklearn",
)

# Runs the CLI with the given arguments in a fresh interpreter, then reports the exit status and
# which heavy packages ended up in sys.modules.
_PROBE = """
import json, sys
from cac.cli.main import app
try:
    app(sys.argv[2:], prog_name="cac")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps({"exit": code, "loaded": loaded}))
"""


def _run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    last: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return last


def test_importing_the_cli_loads_no_heavy_library() -> None:
    probe = "import sys, cac.cli.main; print('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    assert sorted(loaded & set(HEAVY)) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["kb", "--help"],
        ["codes", "--help"],
        ["eval", "--help"],
        ["models", "--help"],
        ["export", "--help"],
        ["keys", "--help"],
        ["code", "--help"],
        ["batch", "--help"],
        ["serve", "--help"],
        ["version"],
    ],
    ids=" ".join,
)
def test_help_exits_0_without_loading_heavy_libraries(args: list[str]) -> None:
    assert _run(*args) == {"exit": 0, "loaded": []}
