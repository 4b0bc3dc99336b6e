"""Evaluation gates: a model version becomes ``champion`` only if it scores well enough.

A candidate version and the current champion are scored on the same fixed evaluation sets
(``cac.feedback.evaluation``): CodiEsp dev and the hold-out of the audited notes. The candidate
passes when

1. **no dev regression**: ``dev.D.map`` and ``dev.P.map`` are each at most ``DEV_TOLERANCE``
   (absolute MAP) below the champion's, and
2. **audited improvement**: ``audited.all.map`` is strictly above the champion's (plus
   ``min_gain``). Without an audited hold-out this gate cannot be checked, and the candidate
   fails unless the caller allows dev-only gating (``require_audited=False``).

Every evaluation is an MLflow run in experiment ``evaluation`` and its figures become the
version's ``eval.*`` tags, with the hash of the evaluation sets and the rest of the pipeline it
ran in (``eval_set.sha256``, ``eval_set.context``): a later promotion on the same sets re-uses
them. Every promotion decision (passed, failed, or gates skipped with a reason) is a run in
experiment ``promotion`` with both versions' figures and the reasons.

The bi-encoder cannot be gated here: a coder with another bi-encoder version needs its retrieval
index rebuilt (20+ CPU-minutes), so its promotion needs ``skip_gates`` with a reason.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cac import registry
from cac.config import get_settings
from cac.errors import CacError
from cac.feedback.audited import export_hash, read_audited
from cac.feedback.evaluation import Figures, evaluate_coder

if TYPE_CHECKING:
    from cac.pipeline import Coder

logger = logging.getLogger(__name__)

DEV_TOLERANCE = 0.01  # absolute MAP a candidate may lose on CodiEsp dev (D and P each)
DEV_GATED = ("dev.D.map", "dev.P.map")
AUDITED_GATED = "audited.all.map"
EVALUATION_EXPERIMENT = "evaluation"
PROMOTION_EXPERIMENT = "promotion"
# Part of the evaluation-set hash: change it when a figure's definition changes, so that stored
# figures are measured again rather than compared with new ones.
EVALUATION_FORMAT = "cac-evaluation/1"
CONTEXT_TAG = "eval_set.context"
_RUN_TAG = "eval_run_id"

Evaluate = Callable[[str, int], Figures]


class GateError(CacError):
    """A promotion or evaluation that cannot run as asked."""


class EvaluationUnsupportedError(GateError):
    """A model whose versions cannot be evaluated by swapping them into a coder."""


@dataclass(frozen=True)
class GateResult:
    """The gates' verdict on a candidate against the champion, with the figures compared."""

    passed: bool
    reasons: list[str]  # why it failed, one line per failed gate; empty when it passed
    candidate: Figures
    champion: Figures
    notes: list[str] = field(default_factory=list)  # what was checked, for a passed verdict


@dataclass(frozen=True)
class Evaluation:
    """The figures of one model version on the evaluation sets."""

    name: str
    version: int
    figures: Figures
    eval_set_sha256: str
    context: str  # the rest of the pipeline it ran in: KB hash, other models' versions
    reused: bool  # figures read from the version's tags instead of measured again
    run_id: str | None


@dataclass(frozen=True)
class Promotion:
    """What a promotion to ``champion`` decided, and whether the alias moved."""

    name: str
    version: int
    previous: int | None  # the champion before
    result: GateResult
    moved: bool
    run_id: str | None  # the ``promotion`` run; None when nothing was to be done


def decide(
    candidate: Figures,
    champion: Figures,
    *,
    tolerance: float = DEV_TOLERANCE,
    min_gain: float = 0.0,
    require_audited: bool = True,
) -> GateResult:
    """Apply the gates to a candidate's and the champion's figures.

    Args:
        candidate: the candidate's figures (``cac.feedback.evaluation``).
        champion: the champion's figures on the same sets.
        tolerance: how much ``dev.D.map`` / ``dev.P.map`` may drop (absolute).
        min_gain: how much ``audited.all.map`` must rise beyond the champion's (strictly).
        require_audited: fail when there is no audited hold-out to compare on; False gates on
            CodiEsp dev alone in that case.

    Returns:
        The verdict; each failure reason names the metric and both numbers.
    """
    reasons: list[str] = []
    notes: list[str] = []
    for metric in DEV_GATED:
        if metric not in candidate or metric not in champion:
            reasons.append(f"{metric}: not measured for both versions; the dev gate needs it")
            continue
        new, old = candidate[metric], champion[metric]
        if new < old - tolerance:
            reasons.append(
                f"{metric} fell by {old - new:.4f}, more than the tolerance {tolerance:.4f}: "
                f"candidate {new:.4f}, champion {old:.4f}"
            )
        else:
            notes.append(
                f"{metric}: candidate {new:.4f}, champion {old:.4f} (tolerance {tolerance:.4f})"
            )
    if AUDITED_GATED in candidate and AUDITED_GATED in champion:
        new, old = candidate[AUDITED_GATED], champion[AUDITED_GATED]
        notes_n = int(candidate.get("audited.notes", 0))
        if new > old + min_gain:
            notes.append(
                f"{AUDITED_GATED}: candidate {new:.4f}, champion {old:.4f} "
                f"({notes_n} hold-out notes)"
            )
        else:
            needed = "above" if min_gain == 0 else f"more than {min_gain:.4f} above"
            reasons.append(
                f"{AUDITED_GATED} did not improve: candidate {new:.4f}, champion {old:.4f} "
                f"(must be {needed} the champion's; {notes_n} hold-out notes)"
            )
    elif require_audited:
        reasons.append(
            f"{AUDITED_GATED}: no audited hold-out notes to compare on, so the improvement gate "
            "cannot be checked (give audited exports with note text, or allow dev-only gating)"
        )
    else:
        notes.append(f"{AUDITED_GATED}: no audited hold-out; gated on CodiEsp dev alone")
    return GateResult(not reasons, reasons, dict(candidate), dict(champion), notes)


def default_dev_dir() -> Path:
    """The vendored CodiEsp corpus (its ``dev`` split is the dev evaluation set)."""
    from eval.codiesp import DEFAULT_DIR

    return DEFAULT_DIR


def eval_set_sha256(dev_dir: Path | None, audited_paths: Sequence[Path]) -> str:
    """SHA-256 naming the evaluation sets: the dev split's files and the audited exports.

    Raises:
        GateError: if ``dev_dir`` has no ``dev`` split.
    """
    digest = hashlib.sha256(EVALUATION_FORMAT.encode())
    digest.update(b"\0dev\0" + _dev_sha256(dev_dir).encode())
    audited = export_hash(audited_paths) if audited_paths else "none"
    digest.update(b"\0audited\0" + audited.encode())
    return digest.hexdigest()


def evaluate_version(
    name: str,
    version: int,
    *,
    dev_dir: Path | None,
    audited_paths: Sequence[Path] = (),
    reuse: bool = False,
) -> Evaluation:
    """Score one registered version on the evaluation sets and record the figures.

    The coder is the service's (``Coder.load``) with this version in place of the model's
    champion. The figures are logged as a run in experiment ``evaluation`` and set as the
    version's ``eval.*`` tags, with ``eval_set.sha256`` and ``eval_set.context``.

    Args:
        name: registered name or kind (``cac-ranker`` or ``ranker``).
        version: the version number.
        dev_dir: a CodiEsp folder whose ``dev`` split is scored; None skips it.
        audited_paths: decision exports (``cac-decisions``); their hold-out notes are scored.
        reuse: return the version's stored figures when they were measured on the same sets in
            the same context, instead of measuring again.

    Raises:
        UnknownModelError: for an unknown model or version.
        EvaluationUnsupportedError: for the bi-encoder.
        AuditedDataError: for an unreadable export.
        RegistryError: without a store.
    """
    name = registry.check_version(name, version)
    kind = registry.kind_of(name)
    if kind == "biencoder":
        raise EvaluationUnsupportedError(
            f"{name} versions cannot be evaluated: a coder with another bi-encoder needs its "
            "retrieval index rebuilt (20+ CPU-minutes); promote it with --skip-gates --reason"
        )
    set_sha256 = eval_set_sha256(dev_dir, audited_paths)
    context = _context(kind)
    if reuse:
        stored = _stored_figures(name, version, set_sha256, context)
        if stored is not None:
            logger.info("%s v%s: re-using its figures on eval set %s", name, version, set_sha256)
            return Evaluation(name, version, stored[0], set_sha256, context, True, stored[1])
    audited = [note for note in read_audited(audited_paths) if note.holdout]
    coder = _coder_for(kind, registry.version_path(name, version))
    figures = evaluate_coder(coder, dev_dir=dev_dir, audited=audited)
    run_id = registry.log_run(
        EVALUATION_EXPERIMENT,
        params={
            "model": name,
            "version": str(version),
            "dev": "none" if dev_dir is None else str(dev_dir),
            "dev_sha256": _dev_sha256(dev_dir),
            "audited_files": ", ".join(p.name for p in audited_paths) or "none",
            "audited_export_sha256": export_hash(audited_paths) if audited_paths else "none",
            "eval_set_sha256": set_sha256,
            "context": context,
        },
        metrics=figures,
        tags={"model": name, "version": str(version)},
    )
    registry.tag_version(
        name,
        version,
        {
            **{registry.EVAL_TAG + key: repr(float(value)) for key, value in figures.items()},
            registry.EVAL_SET_TAG: set_sha256,
            CONTEXT_TAG: context,
            _RUN_TAG: run_id,
        },
        replace_prefix=registry.EVAL_TAG,
    )
    return Evaluation(name, version, figures, set_sha256, context, False, run_id)


def promote_with_gates(
    name: str,
    version: int,
    *,
    audited_paths: Sequence[Path] = (),
    dev_dir: Path | None = None,
    tolerance: float = DEV_TOLERANCE,
    min_gain: float = 0.0,
    require_audited: bool = True,
    evaluate: Evaluate | None = None,
) -> Promotion:
    """Move ``champion`` to ``version`` only if it passes the gates against the champion.

    Both versions are scored on the same sets (stored figures re-used when measured on them);
    the decision, both sets of figures and the reasons are logged as a run in experiment
    ``promotion`` (tag ``decision``: ``passed`` or ``failed``). Without a champion yet, the
    version becomes champion without gates (and the run says so).

    Args:
        name: registered name or kind.
        version: the candidate version.
        audited_paths: decision exports whose hold-out notes are scored.
        dev_dir: the CodiEsp folder of the dev set; None: the vendored corpus.
        tolerance: see :func:`decide`.
        min_gain: see :func:`decide`.
        require_audited: see :func:`decide`.
        evaluate: ``(name, version) -> figures``; default :func:`evaluate_version` on the sets.

    Raises:
        UnknownModelError: for an unknown model or version.
        EvaluationUnsupportedError: for the bi-encoder.
        RegistryError: without a store.
    """
    name = registry.check_version(name, version)
    if registry.kind_of(name) == "biencoder" and evaluate is None:
        raise EvaluationUnsupportedError(
            f"{name} cannot be gated: evaluating another bi-encoder version needs its retrieval "
            "index rebuilt (20+ CPU-minutes); promote it with --skip-gates --reason TEXT"
        )
    previous = registry.champion_version(name)
    if previous == version:
        result = GateResult(True, [], {}, {}, [f"version {version} is already the champion"])
        return Promotion(name, version, previous, result, False, None)
    dev = dev_dir if dev_dir is not None else default_dev_dir()
    set_sha256 = eval_set_sha256(dev, audited_paths)
    if previous is None:
        result = GateResult(
            True, [], {}, {}, [f"{name} has no champion yet: version {version} becomes champion"]
        )
    else:
        if evaluate is None:

            def evaluate(model: str, number: int) -> Figures:
                return evaluate_version(
                    model, number, dev_dir=dev, audited_paths=audited_paths, reuse=True
                ).figures

        candidate = evaluate(name, version)
        champion = evaluate(name, previous)
        result = decide(
            candidate,
            champion,
            tolerance=tolerance,
            min_gain=min_gain,
            require_audited=require_audited,
        )
    run_id = registry.log_run(
        PROMOTION_EXPERIMENT,
        params={
            "model": name,
            "candidate_version": str(version),
            "champion_version": "none" if previous is None else str(previous),
            "tolerance": repr(tolerance),
            "min_gain": repr(min_gain),
            "require_audited": str(require_audited).lower(),
            "eval_set_sha256": set_sha256,
        },
        metrics={
            **{f"candidate.{key}": value for key, value in result.candidate.items()},
            **{f"champion.{key}": value for key, value in result.champion.items()},
        },
        tags={
            "model": name,
            "decision": "passed" if result.passed else "failed",
            "reasons": "\n".join(result.reasons),
            "notes": "\n".join(result.notes),
        },
    )
    if result.passed:
        registry.promote(name, version, registry.CHAMPION)
    logger.info(
        "%s v%s -> champion: %s (run %s)",
        name,
        version,
        "passed" if result.passed else "failed",
        run_id,
    )
    return Promotion(name, version, previous, result, result.passed, run_id)


def promote_skipping_gates(name: str, version: int, *, reason: str) -> Promotion:
    """Move ``champion`` to ``version`` without gates; the reason is recorded in MLflow.

    Raises:
        GateError: without a reason.
        UnknownModelError: for an unknown model or version.
        RegistryError: without a store.
    """
    if not reason.strip():
        raise GateError("skipping the gates needs a reason (--reason TEXT); it is recorded")
    name = registry.check_version(name, version)
    previous = registry.champion_version(name)
    note = f"gates skipped: {reason.strip()}"
    run_id = registry.log_run(
        PROMOTION_EXPERIMENT,
        params={
            "model": name,
            "candidate_version": str(version),
            "champion_version": "none" if previous is None else str(previous),
        },
        metrics={},
        tags={"model": name, "decision": "skipped", "reasons": "", "skip_reason": reason.strip()},
    )
    registry.promote(name, version, registry.CHAMPION)
    result = GateResult(True, [], {}, {}, [note])
    return Promotion(name, version, previous, result, True, run_id)


def _coder_for(kind: str, path: Path) -> Coder:
    """The service's coder with the model of ``kind`` loaded from ``path``."""
    from cac.pipeline import Coder

    if kind == "mention":
        return Coder.load(mention_dir=path)
    if kind == "ranker":
        return Coder.load(ranker_dir=path)
    raise EvaluationUnsupportedError(f"no coder can be built with a {kind} version")


def _context(kind: str) -> str:
    """The rest of the pipeline a version of ``kind`` is scored in: KB and the other models."""
    from cac.kb.manifest import Manifest
    from cac.kb.paths import KBPaths

    manifest = KBPaths(get_settings().kb_dir).manifest
    parts = [f"kb {Manifest.load(manifest).content_hash[:12]}" if manifest.exists() else "kb none"]
    for other, name in registry.MODEL_NAMES.items():
        if other != kind:
            champion = registry.champion_version(name)
            parts.append(f"{name} {'files' if champion is None else f'v{champion}'}")
    return "; ".join(parts)


def _stored_figures(
    name: str, version: int, set_sha256: str, context: str
) -> tuple[Figures, str | None] | None:
    tags = registry.version_tags(name, version)
    if tags.get(registry.EVAL_SET_TAG) != set_sha256 or tags.get(CONTEXT_TAG) != context:
        return None
    figures = {}
    for key, value in tags.items():
        if key.startswith(registry.EVAL_TAG):
            try:
                figures[key.removeprefix(registry.EVAL_TAG)] = float(value)
            except ValueError:
                continue
    return (figures, tags.get(_RUN_TAG)) if figures else None


def _dev_sha256(dev_dir: Path | None) -> str:
    if dev_dir is None:
        return "none"
    root = dev_dir / "dev"
    if not root.is_dir():
        raise GateError(f"no CodiEsp dev split at {root} (expected DIR/dev/text_files_en)")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
