"""Evaluation gates: a degraded candidate never becomes ``champion``, and the refusal says why.

The gates are unit-tested on figures; the figures come from real tiny coders (the mini knowledge
base and a two-phrase lexicon) scored on a two-note CodiEsp-layout dev set and a small audited
export; the promotions run on a real SQLite MLflow store holding two versions of ``cac-ranker``
(the good lexicon and a degraded one), through ``cac models``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cac import registry
from cac.cli.main import app
from cac.codesets.records import System
from cac.coding.lexicon import Lexicon, LexiconEntry
from cac.config import Settings, get_settings
from cac.exports.decisions import ExportedAddedCode, ExportedDecision, NoteRecord
from cac.feedback import gates
from cac.feedback.audited import is_holdout, read_audited
from cac.feedback.evaluation import evaluate_coder
from cac.feedback.gates import DEV_TOLERANCE, decide, promote_with_gates
from cac.kb.build import build
from cac.kb.store import KnowledgeBase
from cac.pipeline import Coder
from tests.conftest import mini_sources

NAME = registry.MODEL_NAMES["ranker"]
LEXICON = "lexicon.json.gz"
runner = CliRunner()

HOLDOUT = [f"enc-{i}" for i in range(200) if is_holdout(f"enc-{i}")][:3]
TRAINING = next(f"enc-{i}" for i in range(200) if not is_holdout(f"enc-{i}"))


def _figures(d: float, p: float, audited: float | None) -> dict[str, float]:
    out = {"dev.D.map": d, "dev.P.map": p}
    if audited is not None:
        out |= {"audited.all.map": audited, "audited.notes": 40.0}
    return out


# --- decide ------------------------------------------------------------------------------------


def test_dev_regression_beyond_the_tolerance_fails_naming_the_metric_and_both_numbers() -> None:
    result = decide(_figures(0.420, 0.407, 0.60), _figures(0.441, 0.407, 0.50))

    assert not result.passed
    (reason,) = result.reasons
    assert reason.startswith("dev.D.map fell by 0.0210, more than the tolerance 0.0100")
    assert "candidate 0.4200, champion 0.4410" in reason


def test_within_the_tolerance_and_better_on_the_audited_holdout_passes() -> None:
    result = decide(_figures(0.441 - DEV_TOLERANCE, 0.400, 0.51), _figures(0.441, 0.407, 0.50))

    assert result.passed and result.reasons == []
    assert any(note.startswith("audited.all.map: candidate 0.5100") for note in result.notes)


@pytest.mark.parametrize("audited", [0.50, 0.49])
def test_no_gain_on_the_audited_holdout_fails(audited: float) -> None:
    result = decide(_figures(0.45, 0.41, audited), _figures(0.441, 0.407, 0.50))

    assert not result.passed
    assert result.reasons == [
        f"audited.all.map did not improve: candidate {audited:.4f}, champion 0.5000 "
        "(must be above the champion's; 40 hold-out notes)"
    ]


def test_without_an_audited_holdout_the_improvement_gate_fails_unless_dev_only_is_allowed() -> None:
    strict = decide(_figures(0.45, 0.41, None), _figures(0.441, 0.407, None))
    dev_only = decide(
        _figures(0.45, 0.41, None), _figures(0.441, 0.407, None), require_audited=False
    )

    assert not strict.passed and "cannot be checked" in strict.reasons[0]
    assert dev_only.passed and "CodiEsp dev alone" in dev_only.notes[-1]


# --- figures from real tiny coders -------------------------------------------------------------


def _lexicon(diabetes: list[tuple[str, float]], fall: list[tuple[str, float]]) -> Lexicon:
    def entries(codes: list[tuple[str, float]]) -> tuple[LexiconEntry, ...]:
        return tuple(LexiconEntry(System.ICD10CM, code, conf, "train") for code, conf in codes)

    # a phrase no code title states, so the scores follow the lexicon, not the title matcher
    phrases = {"glucose trouble": entries(diabetes), "fall": entries(fall)}
    return Lexicon({k: v for k, v in phrases.items() if v}, {})


GOOD = _lexicon([("E1165", 0.9), ("E119", 0.5)], [("W19XXXA", 0.8)])
DEGRADED = _lexicon([("E119", 0.9)], [])


# Long enough that the short-note sources (stated titles, the stated floor) stay out of it: the
# scores here follow the lexicon alone.
_PAD = " Seen in clinic today." * 30


def _record(note_id: int, external_id: str, text: str | None, codes: list[str]) -> NoteRecord:
    when = datetime(2026, 11, 27, tzinfo=UTC)
    added = [
        ExportedAddedCode(
            id=note_id * 10 + i,
            system="icd10cm",
            code=code,
            description="",
            evidence=[],
            status="accepted",
            decisions=[
                ExportedDecision(
                    id=note_id * 10 + i,
                    sequence=1,
                    action="add",
                    final_system=None,
                    final_code=None,
                    coder="coder-jane",
                    created_at=when,
                    reason=None,
                    supersedes=None,
                )
            ],
        )
        for i, code in enumerate(codes)
    ]
    return NoteRecord(
        export_id="x",
        note_id=note_id,
        external_id=external_id,
        version=1,
        setting="inpatient",
        created_at=when,
        text_sha256="0" * 64,
        model={},
        suggestions=[],
        added=added,
        text=text,
    )


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(CodiEsp-layout folder with a two-note dev split, audited export of four notes)."""
    root = tmp_path_factory.mktemp("sets")
    texts = root / "codiesp" / "dev" / "text_files_en"
    texts.mkdir(parents=True)
    (texts / "d1.txt").write_text(f"Glucose trouble with thirst.{_PAD}\n", encoding="utf-8")
    (texts / "d2.txt").write_text(f"Glucose trouble.{_PAD}\n", encoding="utf-8")
    (root / "codiesp" / "dev" / "devD.tsv").write_text("d1\te11.65\nd2\te11.9\n", encoding="utf-8")
    (root / "codiesp" / "dev" / "devP.tsv").write_text("", encoding="utf-8")
    records = [
        _record(1, HOLDOUT[0], f"Glucose trouble with thirst.{_PAD}", ["E11.65"]),
        _record(2, HOLDOUT[1], f"The patient had a fall.{_PAD}", ["W19.XXXA"]),
        _record(3, HOLDOUT[2], None, ["I10"]),  # exported without text: skipped, counted
        _record(4, TRAINING, f"Glucose trouble.{_PAD}", ["E11.9"]),  # trains: never scored
    ]
    audited = root / "decisions.jsonl"
    audited.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    return root / "codiesp", audited


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, KnowledgeBase]]:
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    build(settings, code_sets=mini_sources())
    kb = KnowledgeBase.open(settings.kb_dir)
    yield home, kb
    kb.close()


def test_evaluate_coder_scores_dev_and_only_the_holdout_notes_with_text(
    tiny_home: tuple[Path, KnowledgeBase], sets: tuple[Path, Path]
) -> None:
    dev_dir, audited = sets
    notes = read_audited([audited])

    good = evaluate_coder(Coder(tiny_home[1], GOOD), dev_dir=dev_dir, audited=notes)
    degraded = evaluate_coder(Coder(tiny_home[1], DEGRADED), dev_dir=None, audited=notes)

    # d1: E11.65 first (AP 1); d2: E11.9 second (AP 1/2)
    assert good["dev.D.map"] == pytest.approx(0.75) and good["dev.P.map"] == 0.0
    assert good["audited.notes"] == 2 and good["audited.without_text"] == 1
    assert good["audited.D.map"] == good["audited.all.map"] == 1.0
    assert "audited.P.map" not in good  # no hold-out note has a procedure
    # E11.9 is ranked too, but the conventions keep it back beside E11.65 (I.A.9.b)
    assert good["audited.recall"] == 1.0 and good["audited.f1"] == 1.0
    assert "dev.D.map" not in degraded
    assert degraded["audited.all.map"] == 0.0 and degraded["audited.f1"] == 0.0


# --- promotion on a real MLflow store ----------------------------------------------------------


@dataclass(frozen=True)
class Store:
    uri: str
    dev_dir: Path
    audited: Path


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_home: tuple[Path, KnowledgeBase],
    sets: tuple[Path, Path],
) -> Iterator[Store]:
    """A SQLite store with cac-ranker v1 (good lexicon, champion), v2 (degraded) and a
    cac-biencoder v1; coders for ranker versions are the tiny coder with the version's lexicon."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous_uri = mlflow.get_tracking_uri()
    home, kb = tiny_home
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setenv("CAC_HOME", str(home))
        get_settings.cache_clear()
        patch.setattr(
            gates, "_coder_for", lambda kind, path: Coder(kb, Lexicon.load(path / LEXICON))
        )
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(
            experiment_id=mlflow.create_experiment(
                "training", artifact_location=(root / "artifacts").as_uri()
            )
        )
        for kind, lexicon in (("ranker", GOOD), ("ranker", DEGRADED), ("biencoder", GOOD)):
            folder = root / "out" / kind
            lexicon.save(folder / LEXICON)
            with mlflow.start_run():
                registry.register(
                    kind, folder, metrics={}, data_sha256="0" * 64, model_card=f"# {kind}\n"
                )
        yield Store(uri, *sets)
    mlflow.set_tracking_uri(previous_uri)
    get_settings.cache_clear()


def _gated(store: Store, version: int, *extra: str) -> list[str]:
    return [
        "models",
        "promote",
        NAME,
        str(version),
        "--audited",
        str(store.audited),
        "--dev-dir",
        str(store.dev_dir),
        *extra,
    ]


def _runs(store: Store, experiment: str) -> list[dict[str, str]]:
    from mlflow import MlflowClient

    client = MlflowClient(store.uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    return [run.data.tags for run in runs]


def test_degraded_candidate_is_refused_and_champion_stays_with_the_reasons(store: Store) -> None:
    registry.promote(NAME, 1)

    result = runner.invoke(app, _gated(store, 2))

    assert result.exit_code == 1, result.output
    output = result.output.splitlines()
    lines = output[next(i for i, line in enumerate(output) if line.startswith("gates")) :]
    assert lines[0].startswith(f"gates failed: {NAME}@champion stays on version 1")
    assert lines[1].startswith("  dev.D.map fell by 0.2500, more than the tolerance 0.0100")
    assert lines[2].startswith(
        "  audited.all.map did not improve: candidate 0.0000, champion 1.0000"
    )
    assert registry.champion_version(NAME) == 1
    decision = _runs(store, "promotion")[0]
    assert decision["decision"] == "failed" and "dev.D.map fell" in decision["reasons"]
    tags = registry.version_tags(NAME, 2)
    assert float(tags["eval.audited.all.map"]) == 0.0 and len(tags["eval_set.sha256"]) == 64


def test_better_candidate_moves_champion_reusing_figures_measured_on_the_same_sets(
    store: Store,
) -> None:
    registry.promote(NAME, 2)
    sets = ["--audited", str(store.audited), "--dev-dir", str(store.dev_dir)]
    evaluated = runner.invoke(app, ["models", "evaluate", NAME, "--version", "1", *sets, "--json"])
    first_run = json.loads(evaluated.stdout)["run_id"]

    result = runner.invoke(app, _gated(store, 1))

    assert result.exit_code == 0, result.output
    assert f"{NAME}@champion -> version 1 (gates passed)" in result.output
    assert registry.champion_version(NAME) == 1
    assert registry.version_tags(NAME, 1)["eval_run_id"] == first_run  # not measured again
    assert _runs(store, "promotion")[0]["decision"] == "passed"
    listed = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    ranker = next(m for m in listed if m["name"] == NAME)
    assert [v["evaluation"]["audited.all.map"] for v in ranker["versions"]] == [1.0, 0.0]


def test_injected_evaluation_refuses_a_degraded_candidate(store: Store) -> None:
    registry.promote(NAME, 1)
    figures = {1: _figures(0.44, 0.40, 0.50), 2: _figures(0.44, 0.40, 0.45)}

    outcome = promote_with_gates(
        NAME, 2, dev_dir=store.dev_dir, evaluate=lambda name, version: figures[version]
    )

    assert not outcome.moved and outcome.previous == 1
    assert outcome.result.reasons[0].startswith("audited.all.map did not improve")
    assert registry.champion_version(NAME) == 1


def test_skipping_the_gates_needs_a_reason_and_is_recorded(store: Store) -> None:
    registry.promote(NAME, 1)

    bare = runner.invoke(app, ["models", "promote", NAME, "2", "--skip-gates"])
    skipped = runner.invoke(
        app, ["models", "promote", NAME, "2", "--skip-gates", "--reason", "hotfix of a bad lexicon"]
    )

    assert bare.exit_code == 1 and bare.output.startswith(
        "error: skipping the gates needs a reason"
    )
    assert skipped.exit_code == 0, skipped.output
    assert registry.champion_version(NAME) == 2
    run = _runs(store, "promotion")[0]
    assert run["decision"] == "skipped" and run["skip_reason"] == "hotfix of a bad lexicon"
    registry.promote(NAME, 1)


def test_biencoder_cannot_be_gated_and_other_aliases_move_without_gates(store: Store) -> None:
    biencoder = runner.invoke(app, ["models", "promote", "cac-biencoder", "1"])
    challenger = runner.invoke(app, ["models", "promote", NAME, "2", "--alias", "challenger"])

    assert biencoder.exit_code == 1 and "--skip-gates --reason" in biencoder.output
    assert challenger.exit_code == 0, challenger.output
    assert registry.champion_version(NAME) == 1
