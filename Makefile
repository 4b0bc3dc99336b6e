# cac — developer commands. Every target starts from `make setup` (a .venv in the repo root).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# openapi-python-client, for the generated-client test, in a venv of its own: its pins conflict
# with ours (constraints-tools.txt).
TOOLS := .venv-tools
STAMP := $(VENV)/.installed
# The local CPU torch wheel (pinned in pyproject.toml) lives here on our machines.
WHEELS := $(wildcard /opt/wheels)
PIP_FLAGS := $(if $(WHEELS),--find-links $(WHEELS),)
export CAC_HOME ?= $(CURDIR)/var

.PHONY: setup kb kb-dense run test lint wheel-check typecheck bench-kb bench bench-impact bench-api bench-batch bench-workbench workbench-screenshots eval lexicon models train demo-feedback clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt constraints-tools.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_FLAGS) "torch==2.13.0"
	$(BIN)/python -m pip install --quiet $(PIP_FLAGS) -c constraints.txt -e ".[dev,spark]"
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet -c constraints-tools.txt openapi-python-client
	touch $(STAMP)

kb: setup
	$(BIN)/cac kb build

run: kb
	$(BIN)/cac codes show icd10cm E11.9
	$(BIN)/cac codes search "type 2 diabetes without complications" --system icd10cm --limit 5
	@echo "Serving the REST API on http://127.0.0.1:8000 (docs at /docs, database under $(CAC_HOME))."
	@echo "Coder workbench: http://127.0.0.1:8000/workbench (sign in with a coder key)."
	@echo "Create a key in another shell: $(BIN)/cac keys create --role coder --name YOUR-NAME"
	@echo "  (--role admin for everything; the key is printed once)."
	$(BIN)/cac serve --port 8000

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check cac tests eval training
	$(BIN)/ruff format --check cac
	$(BIN)/mypy cac

# The wheel (pip wheel .) in a fresh venv outside the repo, with its own CAC_HOME and
# CAC_MODELS_DIR, codes a note like the checkout (a few minutes: it installs every dependency).
wheel-check: kb
	bash eval/wheel_check.sh

# Embeds every code name with the bi-encoder (models/biencoder) into $(CAC_HOME)/dense for dense
# retrieval; current systems are skipped, names embedded before are reused. The first build embeds
# ~137k names: about 22 CPU-minutes (README). DenseRetriever.load also builds a missing index.
kb-dense: kb
	$(BIN)/cac kb build-dense

bench-kb: kb
	$(BIN)/python -m eval.bench_kb

# Rebuilds models/lexicon.json.gz and models/code_priors.json from the knowledge base and
# CodiEsp train (~5 min).
lexicon: kb
	$(BIN)/python -m training.lexicon
	$(BIN)/python -m training.priors

# Fine-tunes the MiniLM mention tagger on MACCROBAT + BC5CDR into models/mention/ (the int8
# weights there are committed; about 1.5 h on 2 cores), logged to MLflow under $(CAC_HOME)/mlflow.
models: setup
	$(BIN)/python -m training.mention_model

# Retrains the three models into models/ (mention, biencoder, ranker) and registers each as a new
# MLflow version under $(CAC_HOME)/mlflow (cac-mention-tagger, cac-biencoder, cac-ranker; the
# first version of each becomes "champion"; see `cac models list` / `cac models promote`).
# Several hours: the tagger alone takes ~2 h on 2 cores.
train: kb
	$(BIN)/python -m training.mention_model
	$(BIN)/python -m training.biencoder
	$(BIN)/python -m training.ranker

# The feedback loop end to end with simulated coders, in $(CAC_HOME)/demo-feedback: base ranker
# without one CodiEsp train fold, coders review that fold through the API, export, retrain,
# evaluate, gated promotion, hot reload (training/demo_feedback.py).
demo-feedback: kb
	$(BIN)/python -m training.demo_feedback

eval: kb
	$(BIN)/python -m eval.report
	$(BIN)/python -m eval.guidelines_report

bench: kb
	$(BIN)/python -m eval.bench_coder

# What impact (MS-DRG, CMS-HCC, prompts) adds per CodiEsp dev note, paired runs (~2.5 min).
bench-impact: kb
	$(BIN)/python -m eval.bench_impact

# 4 clients post CodiEsp dev notes to `cac serve` on loopback for 60 s (~1.5 min in all).
bench-api: kb
	$(BIN)/python -m eval.bench_api

# Server time of the workbench's note page (2,000-word note, 40 suggestions) and of a decision
# round trip, on loopback against a live server (~1 min).
bench-workbench: kb
	$(BIN)/python -m eval.bench_workbench

# Retakes docs/workbench-worklist.png and docs/workbench-note.png with the browser test.
workbench-screenshots: kb
	CAC_WORKBENCH_SCREENSHOTS=$(CURDIR)/docs $(BIN)/python -m pytest -q tests/api/workbench/test_browser.py -k reviews

# cac batch on CodiEsp dev: local engine with 1 and 2 workers, Spark local[2] (~5-10 min).
bench-batch: kb
	$(BIN)/python -m eval.bench_batch

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache $(TOOLS)
