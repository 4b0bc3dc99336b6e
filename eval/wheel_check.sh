#!/usr/bin/env bash
# Install independence: a wheel built from the repo (pip wheel .), installed into a fresh venv
# outside the repo with CAC_MODELS_DIR pointing at a copy of models/, codes a note with the same
# suggestions as the checkout. Not a test (installing the dependencies takes minutes):
# `make wheel-check`. Usage: eval/wheel_check.sh [WORK_DIR]; CAC_HOME must hold a built kb/.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3.11}
WORK=${1:-$(mktemp -d /tmp/cac-wheel-check.XXXXXX)}
HOME_KB=${CAC_HOME:-$REPO/var}/kb
test -f "$HOME_KB/manifest.json" || { echo "error: no knowledge base at $HOME_KB; run make kb"; exit 1; }
FIND_LINKS=$([ -d /opt/wheels ] && echo "--find-links /opt/wheels" || true)
mkdir -p "$WORK"
echo "wheel check in $WORK"

# 1. the wheel, and a fresh venv with only it and its pinned dependencies
rm -rf "$WORK/dist" && .venv/bin/python -m pip wheel --quiet --no-deps -w "$WORK/dist" .
test -x "$WORK/venv/bin/python" || "$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet $FIND_LINKS "torch==2.13.0"
"$WORK/venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$WORK"/dist/cac-*.whl
"$WORK/venv/bin/python" -m pip install --quiet $FIND_LINKS -c constraints.txt "$WORK"/dist/cac-*.whl

# 2. its own CAC_HOME (a copy of the built knowledge base) and models folder, outside the repo
rm -rf "$WORK/home" "$WORK/models" && mkdir -p "$WORK/home"
cp -r "$HOME_KB" "$WORK/home/kb"
cp -r models "$WORK/models"
cat > "$WORK/note.txt" <<'NOTE'
Discharge summary. History of type 2 diabetes mellitus and essential hypertension. Admitted with
community acquired pneumonia, treated with IV antibiotics. Chronic kidney disease stage 3. Denies
chest pain. Laparoscopic appendectomy on day 2. Discharged on crutches.
NOTE

# 3. code the note both ways
(cd "$WORK" && env -u CAC_HOME -u CAC_MODELS_DIR -u MLFLOW_TRACKING_URI \
    CAC_HOME="$WORK/home" CAC_MODELS_DIR="$WORK/models" \
    "$WORK/venv/bin/cac" code note.txt --json > wheel.json)
.venv/bin/cac code "$WORK/note.txt" --json > "$WORK/checkout.json"

# 4. the installed package is not the checkout, and the suggestions are the same
(cd "$WORK" && "$WORK/venv/bin/python" - "$WORK" "$REPO") <<'PY'
import json, sys
from pathlib import Path

import cac

work, repo = Path(sys.argv[1]), Path(sys.argv[2])
where = Path(cac.__file__).resolve()
assert repo not in where.parents, f"the venv imports cac from the checkout: {where}"
wheel = json.loads((work / "wheel.json").read_text())
checkout = json.loads((work / "checkout.json").read_text())
shown = [s["code"] for s in wheel["suggestions"] if s["shown"]]
print(f"installed cac: {where}")
print(f"wheel:    {len(wheel['suggestions'])} suggestions, shown {shown}")
print(f"checkout: {len(checkout['suggestions'])} suggestions")
same = wheel["suggestions"] == checkout["suggestions"] and wheel["mentions"] == checkout["mentions"]
model_diff = {k: (wheel["model"].get(k), checkout["model"].get(k))
              for k in set(wheel["model"]) | set(checkout["model"])
              if wheel["model"].get(k) != checkout["model"].get(k)}
print(f"model info differences: {model_diff or 'none'}")
print("SAME suggestions and mentions" if same else "DIFFERENT suggestions")
sys.exit(0 if same else 1)
PY
