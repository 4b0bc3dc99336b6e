"""Retrain the ranker on coders' audited decisions: ``python -m training.feedback --export F``.

Inputs: one or more decision exports (``cac export decisions --include-text``, format
``cac-decisions/1`` or ``/2``) and the base training data (CodiEsp train). Output: a new ranker
folder,
logged to MLflow with the exports' hash as data lineage and registered as a new ``cac-ranker``
version under the alias ``challenger`` (``cac models promote`` decides whether it becomes
``champion``).

1. **Audited labels.** Each exported note's final codes (accepted, replaced-to, added) are its
   gold; rejected and other candidates are negatives (:mod:`cac.feedback.audited`). Notes in the
   audited hold-out never train; notes exported without text cannot be re-coded and are skipped.
2. **Rows.** The base rows are the ranker's cached out-of-fold CodiEsp train rows
   (``training.ranker``). Audited notes are coded with the champion's lexicon and priors, in
   ``FOLDS`` folds: a fold's notes see a coded-note memory of the base notes plus the *other*
   folds' audited notes, as the base rows do, so the ``knn_*`` features do not leak labels.
3. **Ranker.** LightGBM LambdaRank on base + audited rows (audited notes repeated ``--repeat``
   times: they are the hospital's own notes), calibrated out of fold as in ``training.ranker``;
   the shown-list thresholds stay the champion's (both are calibrated probabilities).
4. **Memory.** The new version's coded-note memory holds the base notes and every audited
   training note.

``--reserve-fold K`` (repeatable) builds the base without CodiEsp train fold ``K`` (lexicon,
priors, memory and rows), for the worked example (``make demo-feedback``), whose simulated coders
review those folds' notes: a base that had seen them would already know their codes.
``--base-only`` trains and registers that base itself (as ``champion`` of an empty store).
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import track

from cac.codesets.records import System
from cac.coding.lexicon import Lexicon
from cac.config import get_settings
from cac.feedback.audited import AuditedNote, export_hash, read_audited
from cac.kb.store import KnowledgeBase
from cac.nlp.context import AssertionAnnotator
from cac.pipeline import (
    DEFAULT_LEXICON,
    DEFAULT_MENTION_MODEL,
    DEFAULT_PRIORS,
    DEFAULT_RANKER,
    LEXICON_FILE,
    PRIORS_FILE,
    Coder,
    load_priors,
)
from cac.ranking.model import Ranker
from cac.ranking.neighbours import Code, NoteNeighbours
from cac.registry import CHALLENGER, CHAMPION, promote, register, resolve
from eval.codiesp import DEFAULT_DIR, CodiEspSplit, load_split
from eval.crosswalk import Crosswalk
from training.lexicon import build_lexicon, kb_phrases
from training.priors import code_priors
from training.ranker import (
    FOLDS,
    ROUNDS,
    SYSTEMS,
    RawRow,
    Rows,
    as_priors,
    calibrate,
    fit,
    fold_of,
    gold_notes,
    load_or_collect,
    part,
    product_forms,
    rows_from,
    with_out_of_fold_code_columns,
)
from training.tracking import data_hash, tracked_run

REPEAT = 2
console = Console()


@dataclass
class Base:
    """What the retraining starts from: a linking setup and its out-of-fold train rows."""

    notes: list[tuple[str, list[Code]]]  # base training notes with product-form gold
    lexicon: Lexicon
    priors: dict[tuple[System, str], float]
    rows: dict[System, Rows]
    carries_linking: bool  # the lexicon and priors are not the committed ones
    split: CodiEspSplit | None = None  # the base notes with benchmark gold, for relinking
    crosswalk: Crosswalk | None = None


def load_base(kb: KnowledgeBase, reserve: tuple[int, ...], ranker_dir: Path) -> Base:
    """The base: CodiEsp train (less the folds in ``reserve``) with its out-of-fold rows, and
    the lexicon and priors of the ranker in ``ranker_dir`` when it carries them; else, with
    ``reserve``, a lexicon and priors rebuilt without those folds; else the committed ones."""
    train = load_split(DEFAULT_DIR, "train")
    crosswalk = Crosswalk(kb, [c for codes in train.gold_d.values() for c in codes])
    rows = load_or_collect(kb, crosswalk, None, refresh=False)["train"]
    forms = product_forms(kb, crosswalk)
    if reserve:
        train = part(train, {d for d in train.texts if fold_of(d) not in reserve})
        rows = {s: r.subset(~np.isin(r.fold, reserve)) for s, r in rows.items()}
        console.print(f"base: CodiEsp train without folds {reserve}, {len(train.texts)} notes")
    own_lexicon, own_priors = ranker_dir / LEXICON_FILE, ranker_dir / PRIORS_FILE
    if own_lexicon.exists() and own_priors.exists():
        lexicon, priors, carried = Lexicon.load(own_lexicon), load_priors(own_priors), True
    elif reserve:
        annotator = AssertionAnnotator()
        lexicon = build_lexicon(kb, train, crosswalk, kb_phrases(kb), annotator.cue_phrases())
        priors, carried = as_priors(code_priors(kb, train)), True
    else:
        lexicon, priors, carried = Lexicon.load(DEFAULT_LEXICON), load_priors(DEFAULT_PRIORS), False
    return Base(gold_notes(train, forms), lexicon, priors, rows, carried, train, crosswalk)


def audited_split(notes: list[AuditedNote], crosswalk: Crosswalk) -> CodiEspSplit:
    """Audited notes as a CodiEsp-shaped split (final codes in the benchmark's convention), so
    that the lexicon and priors builders learn from them as from CodiEsp train."""
    texts, gold_d, gold_p = {}, {}, {}
    for n in notes:
        key = f"audited:{n.note_id}"
        texts[key] = n.text or ""
        gold_d[key] = [crosswalk.d(c) for s, c in sorted(n.final) if s is System.ICD10CM]
        gold_p[key] = [crosswalk.p(c) for s, c in sorted(n.final) if s is System.ICD10PCS]
    return CodiEspSplit("audited", texts, gold_d, gold_p)


def joined(a: CodiEspSplit, b: CodiEspSplit) -> CodiEspSplit:
    return CodiEspSplit(
        f"{a.name}+{b.name}",
        {**a.texts, **b.texts},
        {**a.gold_d, **b.gold_d},
        {**a.gold_p, **b.gold_p},
    )


def relinked(kb: KnowledgeBase, base: Base, notes: list[AuditedNote]) -> Base:
    """``base`` with its lexicon and priors learned again from its notes plus ``notes``."""
    assert base.split is not None and base.crosswalk is not None
    split = joined(base.split, audited_split(notes, base.crosswalk))
    lexicon = build_lexicon(kb, split, base.crosswalk, *_linking_inputs(kb))
    priors = as_priors(code_priors(kb, split))
    return Base(base.notes, lexicon, priors, base.rows, True, base.split, base.crosswalk)


@cache
def _linking_inputs(kb: KnowledgeBase) -> tuple[dict[str, Any], set[str]]:
    return kb_phrases(kb), AssertionAnnotator().cue_phrases()


def audited_rows(
    kb: KnowledgeBase,
    base: Base,
    notes: list[AuditedNote],
    with_tagger: bool = True,
    relink: bool = True,
) -> dict[System, Rows]:
    """Labelled feature rows of the audited training notes, coded fold by fold: a fold's notes
    see a memory and (with ``relink``) a lexicon and priors that learned from the base notes and
    the other folds' audited notes only."""
    from cac.nlp.mention_model import MentionModel

    annotator = AssertionAnnotator()
    tagger = MentionModel(DEFAULT_MENTION_MODEL) if with_tagger else None
    raw: dict[System, list[RawRow]] = defaultdict(list)
    for k in range(FOLDS):
        held = [n for n in notes if fold_of(n.external_id) == k]
        if not held:
            continue
        rest = [n for n in notes if fold_of(n.external_id) != k]
        memory = NoteNeighbours.build(
            [*base.notes, *((n.text or "", sorted(n.final)) for n in rest)]
        )
        linking = relinked(kb, base, rest) if relink else base
        coder = Coder(kb, linking.lexicon, annotator, tagger, linking.priors, neighbours=memory)
        for note in track(held, f"audited fold {k + 1}/{FOLDS}", console=console):
            analysis = coder.analyse(note.text or "", note.setting)  # type: ignore[arg-type]
            for system, (candidates, features) in coder.features(analysis).items():
                if system not in SYSTEMS:
                    continue
                for candidate, row in zip(candidates, features, strict=True):
                    doc = f"audited:{note.note_id}"
                    raw[system].append((row.tolist(), doc, candidate.code, k, candidate.code))
    # audited labels compare product codes (the coder's final ones), not the benchmark form
    truth: dict[System, dict[str, set[str]]] = {s: {} for s in SYSTEMS}
    for note in notes:
        for system, code in note.final:
            if system in truth:
                truth[system].setdefault(f"audited:{note.note_id}", set()).add(code)
    return {system: rows_from(raw[system], truth[system]) for system in SYSTEMS}


def concat(parts: list[Rows]) -> Rows:
    return Rows(
        np.vstack([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        [d for p in parts for d in p.doc],
        [c for p in parts for c in p.code],
        np.concatenate([p.fold for p in parts]),
        [c for p in parts for c in p.product],
    )


def repeated(rows: Rows, times: int) -> Rows:
    """``rows`` ``times`` over, each copy's notes renamed so they stay separate groups."""
    copies = [
        Rows(rows.x, rows.y, [f"{d}#{i}" for d in rows.doc], rows.code, rows.fold, rows.product)
        for i in range(times)
    ]
    return concat(copies) if copies else rows


def train_ranker(
    rows: dict[System, Rows], memory: NoteNeighbours, meta: dict[str, Any]
) -> tuple[Ranker, dict[str, Any]]:
    """Boosters, calibration and code stats on ``rows`` (code stats out of fold)."""
    boosters, calibrations, stats, report = {}, {}, {}, {}
    for system in SYSTEMS:
        r = rows[system]
        full, stats[system] = with_out_of_fold_code_columns(r)
        rounds = ROUNDS[system]
        boosters[system] = fit(full, rounds)
        calibrations[system] = calibrate(full, rounds)
        report[system.value] = {"rows": len(r.y), "gold_share": round(float(r.y.mean()), 4)}
    return Ranker(boosters, calibrations, meta, stats, neighbours=memory), report


@dataclass(frozen=True)
class Retrained:
    out: Path
    version: int | None  # the registered version, None when not registered
    lineage: str  # SHA-256 of the exports ("none" for a base without exports)
    audited_train_notes: int


def retrain(
    kb: KnowledgeBase,
    exports: list[Path],
    *,
    out: Path | None = None,
    reserve: tuple[int, ...] = (),
    repeat: int = REPEAT,
    alias: str | None = CHALLENGER,
    base: Base | None = None,
    tagger: bool = True,
    relink: bool = True,
) -> Retrained:
    """Train a ranker on the base plus the exports' audited training notes, save it to ``out``,
    log the run and (with ``alias``) register it and point ``alias`` at it."""
    champion = resolve("ranker", DEFAULT_RANKER)
    if base is None:
        if not reserve and not (champion.path / "meta.json").exists():
            raise SystemExit("error: no champion ranker and no models/ranker to retrain from")
        base = load_base(kb, reserve, champion.path)
    thresholds: dict[str, float] = {"icd10cm": 0.3, "icd10pcs": 0.2}
    if (champion.path / "meta.json").exists():
        thresholds = Ranker.load(champion.path).meta.get("show_thresholds", thresholds)
    audited: list[AuditedNote] = []
    if exports:
        every = read_audited(exports)
        audited = [n for n in every if not n.holdout and n.text]
        console.print(
            f"{len(every)} audited notes: {len(audited)} train, "
            f"{sum(n.holdout for n in every)} held out, "
            f"{sum(not n.holdout and not n.text for n in every)} without text (skipped)"
        )
    relink = relink and base.split is not None and bool(audited)
    extra = audited_rows(kb, base, audited, tagger, relink) if audited else {}
    if relink:
        base = relinked(kb, base, audited)  # what the new version links with
    rows = {
        s: concat([base.rows[s], repeated(extra[s], repeat)]) if s in extra else base.rows[s]
        for s in SYSTEMS
    }
    memory = NoteNeighbours.build(
        [*base.notes, *((n.text or "", sorted(n.final)) for n in audited)]
    )
    lineage = export_hash(exports) if exports else "none"
    meta = {
        "show_thresholds": thresholds,
        "dense_encoder": None,
        "feedback": {
            "exports_sha256": lineage,
            "audited_train_notes": len(audited),
            "reserved_folds": list(reserve),
            "repeat": repeat,
            "relinked": relink,
            "base": champion.label,
        },
    }
    ranker, report = train_ranker(rows, memory, meta)
    out = out or Path(get_settings().home) / "feedback" / lineage[:12]
    if out.exists():
        shutil.rmtree(out)
    ranker.save(out)
    if base.carries_linking:
        base.lexicon.save(out / LEXICON_FILE)
        (out / PRIORS_FILE).write_text(
            json.dumps(_priors_json(base.priors), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    (out / "training_report.json").write_text(json.dumps({**meta, "rows": report}, indent=2) + "\n")
    sha = data_hash([lineage, *(f"{s.value}:{r.y.sum()}:{len(r.y)}" for s, r in rows.items())])
    params = {
        "exports": ",".join(p.name for p in exports) or "none",
        "exports_sha256": lineage,
        "audited_train_notes": len(audited),
        "reserved_folds": ",".join(map(str, reserve)) or "none",
        "repeat": repeat,
    }
    version = None
    with tracked_run("ranker-feedback", {k: str(v) for k, v in params.items()}, sha) as mlflow:
        mlflow.set_tag("exports_sha256", lineage)
        mlflow.log_metric("audited_train_notes", len(audited))
        if alias is not None:
            version = register(
                "ranker",
                out,
                metrics={},
                data_sha256=lineage if exports else sha,
                model_card=card(meta),
            )
            promote("ranker", version, alias)
            console.print(f"registered cac-ranker version {version} as {alias}")
    console.print(f"wrote {out}")
    return Retrained(out, version, lineage, len(audited))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--export", type=Path, action="append", default=[], help="JSONL export.")
    parser.add_argument("--out", type=Path, help="Ranker folder (default $CAC_HOME/feedback/).")
    parser.add_argument(
        "--reserve-fold",
        type=int,
        choices=range(FOLDS),
        action="append",
        default=[],
        help="See above.",
    )
    parser.add_argument("--base-only", action="store_true", help="Train the base, no exports.")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="Copies of audited notes.")
    parser.add_argument("--no-register", action="store_true")
    parser.add_argument(
        "--no-relink", action="store_true", help="Keep the champion's lexicon and priors."
    )
    args = parser.parse_args()
    if not args.export and not args.base_only:
        parser.error("give at least one --export FILE (or --base-only)")
    alias = None if args.no_register else CHAMPION if args.base_only else CHALLENGER
    retrain(
        KnowledgeBase.open(get_settings().kb_dir),
        args.export,
        out=args.out,
        reserve=tuple(sorted(set(args.reserve_fold))),
        repeat=args.repeat,
        alias=alias,
        relink=not args.no_relink,
    )


def _priors_json(priors: dict[tuple[System, str], float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for (system, code), value in priors.items():
        out.setdefault(system.value, {})[code] = value
    return out


def card(meta: dict[str, Any]) -> str:
    feedback = meta["feedback"]
    return (
        "# cac-ranker (retrained on audited decisions)\n\n"
        f"- Base: {feedback['base']}; CodiEsp train"
        + (f" without folds {feedback['reserved_folds']}" if feedback["reserved_folds"] else "")
        + ".\n"
        f"- Audited training notes: {feedback['audited_train_notes']} "
        f"(repeated {feedback['repeat']}x); exports SHA-256 {feedback['exports_sha256']}.\n"
        "- Shown-list thresholds: the base champion's.\n"
        "- Evaluate with `cac models evaluate cac-ranker --version V --audited EXPORT` and promote "
        "with `cac models promote` (gated).\n"
    )


if __name__ == "__main__":
    main()
