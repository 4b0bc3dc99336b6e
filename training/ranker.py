"""Train the learned ranker and its calibration (``models/ranker/``): ``python -m training.ranker``.

1. **Features without leakage.** CodiEsp train is cut into ``FOLDS`` folds. For each fold the
   phrase lexicon and the code priors are rebuilt from the *other* folds, and the fold's notes are
   coded with them (:meth:`cac.pipeline.Coder.analyse`): every candidate code of a note gets a
   feature row (:mod:`cac.ranking.features`) and a label (is it in the note's gold, compared in
   the benchmark's convention). Dev notes are coded with the committed lexicon, as in production.
2. **Ranker.** Per code system, a LightGBM LambdaRank model over each note's candidates, trained
   on all train rows. Parameters were compared on dev (see the training report).
3. **Calibration.** Per system, isotonic regression from out-of-fold ranker scores on train
   (a ranker trained on four folds scores the fifth) to the share of candidates that are gold.
4. **Shown list.** Per system, the confidence threshold with the best micro-F1 on dev.

Dev is used to choose parameters and thresholds, never to fit the ranker or the calibration.
Rows are cached under ``$CAC_HOME/ranker-rows`` (keyed by the lexicon, the tagger and the
feature list) so that retraining with other parameters takes seconds; ``--refresh`` recomputes.
Every run is logged to MLflow and the result registered as ``cac-ranker``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import track

from cac.codesets.records import System
from cac.config import get_settings
from cac.kb.store import KnowledgeBase
from cac.linking.dense import DenseRetriever
from cac.nlp.context import AssertionAnnotator
from cac.pipeline import (
    DEFAULT_BIENCODER,
    DEFAULT_LEXICON,
    DEFAULT_MENTION_MODEL,
    DENSE_SYSTEMS,
    Coder,
)
from cac.ranking.features import FEATURES
from cac.ranking.model import CODE_FEATURES, Calibration, CodeStats, Ranker
from cac.ranking.neighbours import NoteNeighbours
from cac.registry import register
from eval.codiesp import DEFAULT_DIR, CodiEspSplit, load_split
from eval.crosswalk import Crosswalk
from eval.plots import bin_scores, expected_calibration_error
from eval.scoring import average_precision
from training.lexicon import build_lexicon, kb_phrases
from training.priors import code_priors
from training.tracking import data_hash, tracked_run

OUT = Path(__file__).parent.parent / "models" / "ranker"
FOLDS = 5
SYSTEMS = (System.ICD10CM, System.ICD10PCS)
TASK = {System.ICD10CM: "D", System.ICD10PCS: "P"}
PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "map",
    "eval_at": [50],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 50,
    "num_threads": 1,  # OpenMP spinning makes 2 threads far slower on a shared 2-core machine
    "seed": 13,
    "verbose": -1,
}
# Boosting rounds per system, compared on dev (D: 100 -> MAP 0.439, 300 -> 0.441, 600 -> 0.437;
# P: 100 -> 0.408, 300 -> 0.404, 600 -> 0.396).
ROUNDS = {System.ICD10CM: 300, System.ICD10PCS: 100}
ROWS_FORMAT = "rows/3"  # bump when the cached rows change shape
console = Console()


@dataclass
class Rows:
    """Feature rows of one system over many notes, grouped by note."""

    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int32]
    doc: list[str]
    code: list[str]  # benchmark form
    fold: npt.NDArray[np.int32]
    product: list[str]  # the candidate code as the product stores it

    def groups(self) -> list[int]:
        """Rows per note, in order (rows are sorted by note)."""
        sizes: list[int] = []
        previous = None
        for d in self.doc:
            if d != previous:
                sizes.append(0)
                previous = d
            sizes[-1] += 1
        return sizes

    def subset(self, mask: npt.NDArray[np.bool_]) -> Rows:
        idx = np.flatnonzero(mask)
        return Rows(
            self.x[idx],
            self.y[idx],
            [self.doc[i] for i in idx],
            [self.code[i] for i in idx],
            self.fold[idx],
            [self.product[i] for i in idx],
        )

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        """The rows as named arrays (``{prefix}x``, ...), as :func:`save_rows` stores them."""
        return {
            prefix + "x": self.x,
            prefix + "y": self.y,
            prefix + "doc": np.asarray(self.doc),
            prefix + "code": np.asarray(self.code),
            prefix + "product": np.asarray(self.product),
            prefix + "fold": self.fold,
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, npt.NDArray[Any]], prefix: str) -> Rows:
        """The rows stored under ``prefix`` by :meth:`to_arrays`."""
        return cls(
            data[prefix + "x"],
            data[prefix + "y"],
            [str(v) for v in data[prefix + "doc"]],
            [str(v) for v in data[prefix + "code"]],
            data[prefix + "fold"],
            [str(v) for v in data[prefix + "product"]],
        )


# One candidate of one note: (features, note id, code in benchmark form, fold, product code).
RawRow = tuple[list[float], str, str, int, str]


def rows_from(items: list[RawRow], truth: dict[str, set[str]]) -> Rows:
    """``items`` as rows sorted by note (stable), each labelled 1 when its code is in its
    note's ``truth`` (compared as given: the caller puts both in one form)."""
    ordered = sorted(items, key=lambda r: r[1])
    return Rows(
        np.asarray([r[0] for r in ordered], dtype=np.float32).reshape(-1, len(FEATURES)),
        np.asarray([r[2] in truth.get(r[1], set()) for r in ordered], dtype=np.int32),
        [r[1] for r in ordered],
        [r[2] for r in ordered],
        np.asarray([r[3] for r in ordered], dtype=np.int32),
        [r[4] for r in ordered],
    )


def _prefix(name: str, system: System) -> str:
    return f"{name}_{system.value}_"


def save_rows(path: Path, rows: dict[str, dict[System, Rows]]) -> None:
    """Write train and dev rows per system to one compressed ``.npz`` (no pickled objects)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, by_system in rows.items():
        for system, r in by_system.items():
            arrays.update(r.to_arrays(_prefix(name, system)))
    np.savez_compressed(path, **arrays)


def load_rows(path: Path) -> dict[str, dict[System, Rows]]:
    """The rows that :func:`save_rows` wrote to ``path``."""
    with np.load(path, allow_pickle=False) as data:
        return {
            name: {system: Rows.from_arrays(data, _prefix(name, system)) for system in SYSTEMS}
            for name in ("train", "dev")
        }


def fold_of(doc_id: str) -> int:
    return int(hashlib.sha256(doc_id.encode()).hexdigest(), 16) % FOLDS


def part(split: CodiEspSplit, ids: set[str]) -> CodiEspSplit:
    return CodiEspSplit(
        split.name,
        {d: t for d, t in split.texts.items() if d in ids},
        {d: c for d, c in split.gold_d.items() if d in ids},
        {d: c for d, c in split.gold_p.items() if d in ids},
    )


def as_priors(raw: dict[str, dict[str, float]]) -> dict[tuple[System, str], float]:
    return {(System(s), code): p for s, codes in raw.items() for code, p in codes.items()}


def product_forms(kb: KnowledgeBase, crosswalk: Crosswalk) -> dict[System, dict[str, str]]:
    """Per system, benchmark code -> the product code that stands for it (of the codes train
    uses; where several map to one benchmark code, the first in code order: the initial encounter
    of an injury code)."""
    out: dict[System, dict[str, str]] = {System.ICD10CM: {}, System.ICD10PCS: {}}
    for system, code in sorted(as_priors(code_priors(kb)), key=lambda k: (k[0].value, k[1])):
        mapped = crosswalk.d(code) if system is System.ICD10CM else crosswalk.p(code)
        out[system].setdefault(mapped, code)
    return out


def gold_notes(
    split: CodiEspSplit, forms: dict[System, dict[str, str]]
) -> list[tuple[str, list[tuple[System, str]]]]:
    """The split's notes with their gold codes in product form (codes without one dropped)."""
    out = []
    for doc_id in sorted(split.texts):
        codes = []
        for system, gold in ((System.ICD10CM, split.gold_d), (System.ICD10PCS, split.gold_p)):
            for c in gold.get(doc_id, []):
                if (product := forms[system].get(c.lower())) is not None:
                    codes.append((system, product))
        out.append((split.texts[doc_id], codes))
    return out


def memory(split: CodiEspSplit, forms: dict[System, dict[str, str]]) -> NoteNeighbours:
    """The coded-note memory of ``split``: each note with its gold codes in product form."""
    return NoteNeighbours.build(gold_notes(split, forms))


def code_notes(
    coder: Coder,
    texts: dict[str, str],
    fold: int,
    crosswalk: Crosswalk,
    out: dict[System, list[RawRow]],
    label: str,
) -> None:
    """Feature rows (without labels) of every note in ``texts``, appended to ``out``."""
    for doc_id, text in track(sorted(texts.items()), label, console=console):
        analysis = coder.analyse(text, "inpatient")
        for system, (candidates, rows) in coder.features(analysis).items():
            if system not in TASK:
                continue
            mapped = crosswalk.d if system is System.ICD10CM else crosswalk.p
            for candidate, row in zip(candidates, rows, strict=True):
                out[system].append(
                    (row.tolist(), doc_id, mapped(candidate.code), fold, candidate.code)
                )


def collect_rows(
    kb: KnowledgeBase, crosswalk: Crosswalk, dense: DenseRetriever | None
) -> dict[str, dict[System, Rows]]:
    """Out-of-fold train rows and dev rows, per system (the slow part: lexicons and coding)."""
    train = load_split(DEFAULT_DIR, "train")
    dev_texts = load_split(DEFAULT_DIR, "dev").texts
    annotator = AssertionAnnotator()
    from cac.nlp.mention_model import MentionModel

    tagger = MentionModel(DEFAULT_MENTION_MODEL)
    kb_candidates = kb_phrases(kb)
    cues = annotator.cue_phrases()
    forms = product_forms(kb, crosswalk)
    raw: dict[str, dict[System, list[RawRow]]] = {
        "train": defaultdict(list),
        "dev": defaultdict(list),
    }
    for k in range(FOLDS):
        inside = {d for d in train.texts if fold_of(d) != k}
        rest = part(train, inside)
        lexicon = build_lexicon(kb, rest, crosswalk, kb_candidates, cues)
        priors = as_priors(code_priors(kb, rest))
        neighbours = memory(rest, forms)
        coder = Coder(kb, lexicon, annotator, tagger, priors, dense=dense, neighbours=neighbours)
        held = {d: t for d, t in train.texts.items() if fold_of(d) == k}
        code_notes(coder, held, k, crosswalk, raw["train"], f"train fold {k + 1}/{FOLDS}")
    from cac.coding.lexicon import Lexicon

    full = Coder(
        kb,
        Lexicon.load(DEFAULT_LEXICON),
        annotator,
        tagger,
        as_priors(code_priors(kb)),
        dense=dense,
        neighbours=memory(train, forms),
    )
    code_notes(full, dev_texts, -1, crosswalk, raw["dev"], "dev")
    out: dict[str, dict[System, Rows]] = {}
    for name, split in (("train", train), ("dev", load_split(DEFAULT_DIR, "dev"))):
        out[name] = {}
        for system in SYSTEMS:
            gold = split.gold_d if system is System.ICD10CM else split.gold_p
            truth = {d: {c.lower() for c in codes} for d, codes in gold.items()}
            out[name][system] = rows_from(raw[name][system], truth)
    return out


def fit(rows: Rows, rounds: int, params: dict[str, Any] | None = None) -> Any:
    import lightgbm

    names = [*FEATURES, *CODE_FEATURES]
    data = lightgbm.Dataset(rows.x, rows.y, group=rows.groups(), feature_name=names)
    return lightgbm.train({**PARAMS, **(params or {})}, data, num_boost_round=rounds)


def ranked_lists(rows: Rows, scores: npt.NDArray[np.float64]) -> dict[str, list[tuple[str, float]]]:
    """Per note: benchmark codes by descending score, first occurrence kept (as ``eval.run``)."""
    per_doc: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for doc, code, score in zip(rows.doc, rows.code, scores, strict=True):
        per_doc[doc].append((float(score), code))
    out = {}
    for doc, items in per_doc.items():
        seen: set[str] = set()
        ranked = []
        for score, code in sorted(items, key=lambda t: -t[0]):
            if code not in seen:
                seen.add(code)
                ranked.append((code, score))
        out[doc] = ranked
    return out


def scores_on(
    ranked: dict[str, list[tuple[str, float]]], gold: dict[str, list[str]], threshold: float
) -> dict[str, float]:
    """MAP, micro P/R/F1 of the list cut at ``threshold``, and ECE (10 bins) of the whole ranked
    list (``ece``) and of the shown part only (``ece_shown``)."""
    truth = {d: {c.lower() for c in codes} for d, codes in gold.items() if codes}
    aps = [average_precision([c for c, _ in ranked.get(d, [])], t) for d, t in truth.items()]
    scored = [
        (score, code in truth.get(d, set())) for d, items in ranked.items() for code, score in items
    ]
    shown = [(score, hit) for score, hit in scored if score >= threshold]
    tp = sum(hit for _, hit in shown)
    n_gold = sum(len(t) for t in truth.values())
    p = tp / len(shown) if shown else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {
        "map": float(np.mean(aps)) if aps else 0.0,
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "ece": calibration_error(scored),
        "ece_shown": calibration_error(shown),
    }


def calibration_error(scored: list[tuple[float, bool]]) -> float:
    """Expected calibration error over 10 equal-width confidence bins (count-weighted), as
    ``make eval`` computes it."""
    return expected_calibration_error(bin_scores(scored))


def with_code_columns(train: Rows, dev: Rows) -> tuple[Rows, Rows, CodeStats]:
    """Both row sets with :data:`CODE_FEATURES` appended: train rows get out-of-fold figures
    (from the other folds' rows), dev rows figures from all of train; and the full-train stats."""
    out_of_fold, full = with_out_of_fold_code_columns(train)
    return out_of_fold, _augmented(dev, full.columns(dev.product)), full


def with_out_of_fold_code_columns(train: Rows) -> tuple[Rows, CodeStats]:
    """``train`` with :data:`CODE_FEATURES` from the other folds' rows, and the stats of all."""
    extra = np.zeros((len(train.y), len(CODE_FEATURES)), dtype=np.float32)
    for k in range(FOLDS):
        held = train.fold == k
        others = np.flatnonzero(~held)
        stats = CodeStats.from_labels([train.product[i] for i in others], train.y[others])
        extra[held] = stats.columns([train.product[i] for i in np.flatnonzero(held)])
    return _augmented(train, extra), CodeStats.from_labels(train.product, train.y)


def _augmented(rows: Rows, columns: npt.NDArray[np.float32]) -> Rows:
    return Rows(np.hstack([rows.x, columns]), rows.y, rows.doc, rows.code, rows.fold, rows.product)


def calibrate(train: Rows, rounds: int) -> Calibration:
    """Isotonic map from out-of-fold ranker scores to the share of gold candidates."""
    from sklearn.isotonic import IsotonicRegression

    oof = np.zeros(len(train.y))
    for k in range(FOLDS):
        held = train.fold == k
        booster = fit(train.subset(~held), rounds)
        oof[held] = booster.predict(train.x[held])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(oof, train.y)
    return Calibration(
        tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_)
    )


def best_threshold(ranked: dict[str, list[tuple[str, float]]], gold: dict[str, list[str]]) -> float:
    grid = [round(t, 2) for t in np.arange(0.05, 0.96, 0.01)]
    return max(grid, key=lambda t: (scores_on(ranked, gold, t)["f1"], -t))


def candidate_recall(rows: Rows, gold: dict[str, list[str]]) -> float:
    found: dict[str, set[str]] = defaultdict(set)
    for d, c in zip(rows.doc, rows.code, strict=True):
        found[d].add(c)
    pairs = [(d, c.lower()) for d, codes in gold.items() for c in set(codes)]
    return sum(c in found.get(d, set()) for d, c in pairs) / max(len(pairs), 1)


def cache_key(kb: KnowledgeBase, dense: DenseRetriever | None) -> str:
    digest = hashlib.sha256()
    digest.update(ROWS_FORMAT.encode())
    digest.update((dense.encoder.version if dense else "no dense").encode())
    digest.update(DEFAULT_LEXICON.read_bytes())
    for name in ("config.json", "weights.int8.safetensors"):
        path = DEFAULT_MENTION_MODEL / name
        if path.exists():
            digest.update(path.read_bytes())
    digest.update(kb.manifest.content_hash.encode())
    digest.update(" ".join(FEATURES).encode())
    for name in ("lexicon.py", "crosslingual.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    digest.update((Path(__file__).parent.parent / "cac" / "pipeline.py").read_bytes())
    for name in ("features.py", "neighbours.py", "title_evidence.py"):
        digest.update((Path(__file__).parent.parent / "cac" / "ranking" / name).read_bytes())
    return digest.hexdigest()[:16]


def load_or_collect(
    kb: KnowledgeBase, crosswalk: Crosswalk, dense: DenseRetriever | None, refresh: bool
) -> dict[str, dict[System, Rows]]:
    folder = get_settings().home / "ranker-rows" / cache_key(kb, dense)
    path = folder / "rows.npz"
    if path.exists() and not refresh:
        console.print(f"feature rows from cache {path}")
        return load_rows(path)
    rows = collect_rows(kb, crosswalk, dense)
    folder.mkdir(parents=True, exist_ok=True)
    save_rows(path, rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rounds", type=int, help="Boosting rounds for both systems.")
    parser.add_argument("--refresh", action="store_true", help="Recompute the feature rows.")
    parser.add_argument("--no-register", action="store_true", help="Log the run, do not register.")
    parser.add_argument(
        "--no-dense", action="store_true", help="Without bi-encoder candidates (models/biencoder)."
    )
    args = parser.parse_args()
    kb = KnowledgeBase.open(get_settings().kb_dir)
    dense = None
    if not args.no_dense:
        dense = DenseRetriever.load(kb, DEFAULT_BIENCODER, systems=list(DENSE_SYSTEMS.values()))
    train_split = load_split(DEFAULT_DIR, "train")
    crosswalk = Crosswalk(kb, [c for codes in train_split.gold_d.values() for c in codes])
    rows = load_or_collect(kb, crosswalk, dense, args.refresh)
    dev_gold = load_split(DEFAULT_DIR, "dev")
    boosters, calibrations, thresholds, stats = {}, {}, {}, {}
    rounds_of = {TASK[s]: args.rounds or ROUNDS[s] for s in SYSTEMS}
    report: dict[str, Any] = {"params": {**PARAMS, "rounds": rounds_of, "folds": FOLDS}}
    for system in SYSTEMS:
        task = TASK[system]
        train, dev = rows["train"][system], rows["dev"][system]
        gold = dev_gold.gold_d if system is System.ICD10CM else dev_gold.gold_p
        console.print(
            f"{task}: {len(train.y):,} train rows ({train.y.mean():.3f} gold), "
            f"{len(dev.y):,} dev rows"
        )
        heuristic = ranked_lists(dev, dev.x[:, FEATURES.index("heuristic")].astype(np.float64))
        train, dev, stats[system] = with_code_columns(train, dev)
        rounds = args.rounds or ROUNDS[system]
        booster = fit(train, rounds)
        calibration = calibrate(train, rounds)
        confidence = calibration(np.asarray(booster.predict(dev.x), dtype=np.float64))
        ranked = ranked_lists(dev, confidence)
        threshold = best_threshold(ranked, gold)
        boosters[system], calibrations[system], thresholds[system.value] = (
            booster,
            calibration,
            threshold,
        )
        report[task] = {
            "train_rows": len(train.y),
            "dev_candidate_recall": round(candidate_recall(dev, gold), 4),
            "dev_heuristic": {k: round(v, 4) for k, v in scores_on(heuristic, gold, 0.3).items()},
            "dev_ranker": {k: round(v, 4) for k, v in scores_on(ranked, gold, threshold).items()},
            "threshold": threshold,
            "importance": dict(
                sorted(
                    zip(
                        (*FEATURES, *CODE_FEATURES),
                        (int(v) for v in booster.feature_importance("gain")),
                        strict=True,
                    ),
                    key=lambda kv: -kv[1],
                )[:12]
            ),
        }
        console.print_json(json.dumps(report[task]))
    meta = {
        "show_thresholds": thresholds,
        "dense_encoder": dense.encoder.version if dense else None,
        "report": report,
    }
    neighbours = memory(train_split, product_forms(kb, crosswalk))
    ranker = Ranker(boosters, calibrations, meta, stats, neighbours=neighbours)
    sha = rows_hash(rows)
    params = {**PARAMS, "rounds": rounds_of, "folds": FOLDS, "dense": dense is not None}
    with tracked_run("ranker", {k: str(v) for k, v in params.items()}, sha) as mlflow:
        ranker.save(args.out)
        (args.out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
        metrics = {
            f"dev.{TASK[system]}.{name}": float(value)
            for system in SYSTEMS
            for name, value in report[TASK[system]]["dev_ranker"].items()
        }
        mlflow.log_metrics(metrics)
        if not args.no_register:
            version = register(
                "ranker", args.out, metrics=metrics, data_sha256=sha, model_card=card(report)
            )
            console.print(f"registered cac-ranker version {version}")
    console.print(f"wrote {args.out}")


def rows_hash(rows: dict[str, dict[System, Rows]]) -> str:
    """SHA-256 of the training rows (features and labels): the ranker's data lineage."""
    return data_hash(
        f"{system.value}:{hashlib.sha256(r.x.tobytes()).hexdigest()}:"
        f"{hashlib.sha256(r.y.tobytes()).hexdigest()}:{','.join(r.doc)}"
        for system, r in sorted(rows["train"].items(), key=lambda kv: kv[0].value)
    )


def card(report: dict[str, Any]) -> str:
    """The Markdown model card of a trained ranker."""
    lines = [
        "# cac-ranker",
        "",
        "LightGBM LambdaRank over a note's candidate codes, per code system, with isotonic "
        "calibration of its scores (`python -m training.ranker`, `make train`).",
        "",
        f"- Features: {', '.join((*FEATURES, *CODE_FEATURES))}.",
        f"- Training rows: CodiEsp train, {FOLDS} folds; each fold coded with a lexicon and priors "
        "learned from the other folds. Calibration: isotonic on out-of-fold scores.",
        "- Shown-list thresholds and parameters chosen on CodiEsp dev, so dev figures are "
        "optimistic.",
        "",
        "| task | dev MAP | P | R | F1 | ECE | threshold |",
        "|---|---|---|---|---|---|---|",
    ]
    for task in ("D", "P"):
        r = report[task]["dev_ranker"]
        lines.append(
            f"| {task} | {r['map']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
            f"{r['f1']:.3f} | {r['ece']:.3f} | {report[task]['threshold']} |"
        )
    lines += [
        "",
        "## Intended use and limits",
        "",
        "Orders and scores code suggestions for a human coder. Learned from Spanish clinical case "
        "reports machine-translated to English: confidence is calibrated on that distribution and "
        "may drift on other notes; the retraining loop exists to re-fit it on audited decisions.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
