"""The manifest of the committed model artifacts: ``python -m training.manifest``.

Writes ``models/MANIFEST.json``: every file under ``models/`` that is committed (not the
READMEs, the manifest itself or the git-ignored float weights) with its size and SHA-256, and the
total. ``--check`` compares the files with the manifest instead and exits 1 on any difference (a
test runs the same check), so a model file changed without the manifest, or the manifest without
the file, cannot land.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

MODELS = Path(__file__).parent.parent / "models"
MANIFEST = "MANIFEST.json"
# The float weights stay out of git (the int8 files are what loads); READMEs are not artifacts.
SKIPPED = {MANIFEST, "README.md", "model.safetensors"}
BUDGET_BYTES = 60 * 1000 * 1000  # the learned-linking issue's ceiling for committed models


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifacts(root: Path = MODELS) -> dict[str, dict[str, int | str]]:
    """``{relative path: {"bytes": n, "sha256": hex}}`` of the artifact files, sorted."""
    out: dict[str, dict[str, int | str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if path.name in SKIPPED or relative.startswith(".") or "__pycache__" in relative:
            continue
        out[relative] = {"bytes": path.stat().st_size, "sha256": sha256(path)}
    return out


def build(root: Path = MODELS) -> dict[str, object]:
    files = artifacts(root)
    total = sum(int(f["bytes"]) for f in files.values())
    return {"total_bytes": total, "budget_bytes": BUDGET_BYTES, "files": files}


def differences(root: Path = MODELS) -> list[str]:
    """What differs between the files and ``MANIFEST.json`` (empty when they agree)."""
    path = root / MANIFEST
    if not path.exists():
        return [f"{MANIFEST} is missing; run python -m training.manifest"]
    recorded = json.loads(path.read_text(encoding="utf-8"))["files"]
    actual = artifacts(root)
    problems = [f"{name}: not in the manifest" for name in sorted(set(actual) - set(recorded))]
    problems += [f"{name}: listed but missing" for name in sorted(set(recorded) - set(actual))]
    problems += [
        f"{name}: SHA-256 differs from the manifest"
        for name in sorted(set(actual) & set(recorded))
        if actual[name]["sha256"] != recorded[name]["sha256"]
    ]
    total = sum(int(f["bytes"]) for f in actual.values())
    if total > BUDGET_BYTES:
        problems.append(f"models total {total:,} bytes, over the {BUDGET_BYTES:,} budget")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="Compare instead of writing.")
    args = parser.parse_args()
    if args.check:
        problems = differences()
        for problem in problems:
            print(problem, file=sys.stderr)
        raise SystemExit(1 if problems else 0)
    manifest = build()
    (MODELS / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"{len(manifest['files'])} files, {manifest['total_bytes']:,} bytes -> models/{MANIFEST}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
