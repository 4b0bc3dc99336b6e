"""Score a coder on the fixed evaluation sets: CodiEsp dev and the audited hold-out.

The figures (one flat dict, keys as logged to MLflow):

- ``dev.D.map``, ``dev.P.map``, ``dev.D.f1``, ``dev.P.f1``: CodiEsp dev as ``cac eval codiesp``
  scores it (MAP of the ranked list, micro F1 of the shown codes; ``eval.run.run_split``).
- ``audited.D.map`` / ``audited.P.map``: mean average precision over the hold-out notes with at
  least one final ICD-10-CM / ICD-10-PCS code: the note's suggestions of that system, in the
  coder's order (by confidence), against the codes the review settled (``AuditedNote.final``).
- ``audited.all.map``: the same over every (note, system) pair with a final code, all systems
  pooled (ICD-10-CM, ICD-10-PCS, HCPCS, CPT): each system of a note is its own ranked list, so a
  note with diagnoses and procedures counts twice. This is the figure the promotion gate uses.
- ``audited.precision``, ``audited.recall``, ``audited.f1``: micro P/R/F1 of the shown codes
  against the final codes, all systems, over the scored notes.
- ``audited.notes``: hold-out notes scored (with text and at least one final code);
  ``audited.without_text`` and ``audited.without_codes``: hold-out notes skipped for lack of one.

Only hold-out notes (``AuditedNote.holdout``) are used, whatever the caller passes: the others
train. A per-system MAP is left out when no scored note has a final code of that system.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import track

from cac.codesets.records import System
from cac.feedback.audited import AuditedNote, Code, product_code

if TYPE_CHECKING:
    from cac.pipeline import Coder

Figures = dict[str, float]

_TASKS = {"D": System.ICD10CM, "P": System.ICD10PCS}


def evaluate_coder(
    coder: Coder, *, dev_dir: Path | None, audited: Sequence[AuditedNote]
) -> Figures:
    """Code the evaluation sets with ``coder`` and score it.

    Args:
        coder: the coder to score (e.g. one built with a given model version).
        dev_dir: a CodiEsp folder whose ``dev`` split is coded; None leaves the ``dev.*``
            figures out.
        audited: audited notes; only the hold-out ones with text are coded.

    Returns:
        The figures described in the module docstring.

    Raises:
        CacError: if ``dev_dir`` does not hold the CodiEsp layout.
    """
    figures: Figures = {}
    if dev_dir is not None:
        from eval.run import run_split

        report = run_split("dev", dev_dir, coder=coder)[0]
        for task in _TASKS:
            figures[f"dev.{task}.map"] = float(report[task]["map"])
            figures[f"dev.{task}.f1"] = float(report[task]["f1"])
    figures.update(score_audited(coder, audited))
    return figures


def score_audited(coder: Coder, audited: Sequence[AuditedNote]) -> Figures:
    """The ``audited.*`` figures of ``coder`` on the hold-out notes of ``audited``."""
    from eval.scoring import average_precision, clean_ranking

    holdout = [note for note in audited if note.holdout]
    without_text = sum(1 for note in holdout if note.text is None)
    without_codes = sum(1 for note in holdout if note.text is not None and not note.final)
    scored = [(note, note.text) for note in holdout if note.text is not None and note.final]
    per_system: dict[System, list[float]] = {}
    true_positives = predicted = gold = 0
    console = Console(stderr=True)
    for note, text in track(scored, "coding the audited hold-out", console=console):
        result = coder.code(text, "outpatient" if note.setting == "outpatient" else "inpatient")
        ranked: dict[System, list[str]] = {}
        shown: set[Code] = set()
        for suggestion in result.suggestions:
            code = product_code(suggestion.system.value, suggestion.code)
            ranked.setdefault(suggestion.system, []).append(code[1])
            if suggestion.shown:
                shown.add(code)
        for system in {system for system, _ in note.final}:
            truth = {code.lower() for owner, code in note.final if owner is system}
            ap = average_precision(clean_ranking(ranked.get(system, [])), truth)
            per_system.setdefault(system, []).append(ap)
        true_positives += len(shown & note.final)
        predicted += len(shown)
        gold += len(note.final)
    figures: Figures = {
        "audited.notes": float(len(scored)),
        "audited.without_text": float(without_text),
        "audited.without_codes": float(without_codes),
    }
    if not scored:
        return figures
    for task, system in _TASKS.items():
        if per_system.get(system):
            figures[f"audited.{task}.map"] = _mean(per_system[system])
    figures["audited.all.map"] = _mean([ap for aps in per_system.values() for ap in aps])
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    figures["audited.precision"] = precision
    figures["audited.recall"] = recall
    figures["audited.f1"] = (
        2 * precision * recall / (precision + recall) if precision + recall else 0.0
    )
    return figures


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
