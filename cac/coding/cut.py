"""The shown cut: which of a note's scored candidates a coder sees before the conventions run.

A code is shown when its calibrated confidence reaches its system's threshold (best micro-F1 on
CodiEsp dev). The ranker was trained on long case reports; a problem list or a one-line
progress note gives it little to go on and its confidence collapses. In a note shorter than
``SHORT_NOTE_CHARS``, a code whose title (or an inclusion term) the note states in one
sentence, through a lexicon or abbreviation mention, gets at least
``STATED_CONFIDENCE``: how often such a stated code was right on CodiEsp train
(``python -m training.stated_precision``, written to ``models/stated_precision.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cac.codesets.records import CodeRecord, System
from cac.coding import evidence
from cac.coding.candidates import aggregate, summary
from cac.coding.records import RuleCitation, Suggestion
from cac.coding.statements import NoteStatements, record_requirements
from cac.errors import CacError
from cac.ranking.features import CodeCandidate

if TYPE_CHECKING:
    from cac.ranking.model import Ranker

Setting = Literal["inpatient", "outpatient"]

# Without a ranker: the heuristic confidence is cut here (best F1 on CodiEsp dev).
SHOW_THRESHOLDS = {System.ICD10CM: 0.30, System.ICD10PCS: 0.25}
DEFAULT_SHOW_THRESHOLD = 0.30
SHORT_NOTE_CHARS = 600
# A longer note's sections where a coder reads the codes off the words: what the note states
# there in one sentence gets the same floor as a short note's statement (medspaCy's section
# categories; a case report without headers has none of them).
HEADED_SECTIONS = frozenset(
    {
        "observation_and_plan",
        "diagnoses",
        "problem_list",
        "past_medical_history",
        "family_history",
        "medications",
    }
)
STATED_SOURCES = frozenset({"kb", "train", "title"})
STATED_FILE = Path(__file__).parent.parent.parent / "models" / "stated_precision.json"
# Used when models/stated_precision.json is absent (its value on 120 train notes).
DEFAULT_STATED_CONFIDENCE = 0.64


def stated_confidence(path: Path = STATED_FILE) -> float:
    """The measured precision of a stated title, or the default without the file.

    Raises:
        CacError: if the file is not the JSON ``training.stated_precision`` writes.
    """
    if not path.exists():
        return DEFAULT_STATED_CONFIDENCE
    try:
        value = float(json.loads(path.read_text(encoding="utf-8"))["precision"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CacError(
            f"{path.name} is not a stated-precision file ({type(exc).__name__})"
        ) from None
    if not 0.0 < value <= 1.0:
        raise CacError(f"{path.name}: precision {value} is not in (0, 1]")
    return value


def short_note_floor(
    text: str,
    candidate: CodeCandidate,
    record: CodeRecord,
    confidence: float,
    floor: float,
    note: NoteStatements | None,
) -> float:
    """The confidence of a candidate of a short note, or of a longer note's assessment,
    problem list, history or medication list: at least ``floor`` when stated."""
    if note is None or confidence >= floor:
        return confidence
    if len(text) >= SHORT_NOTE_CHARS and not candidate.sections & HEADED_SECTIONS:
        return confidence
    if (
        not candidate.assertions & {"present", "possible", "family", "historical"}
        or not record.billable
    ):
        return confidence
    if not any(s.source in STATED_SOURCES for s in candidate.supports):
        return confidence
    if note.states(record_requirements(record)) is None and not _history_of_stated(
        candidate, record
    ):
        return confidence
    return floor


def _history_of_stated(candidate: CodeCandidate, record: CodeRecord) -> bool:
    """A history code (Z80-Z87) made from a stated condition the note places in the past or
    in a relative ("colon cancer resected years ago" -> Z85.038): its own title is not said."""
    return (
        record.system is System.ICD10CM
        and "Z80" <= record.code[:3] <= "Z87"
        and bool(candidate.assertions & {"historical", "family"})
    )


def why_shown(
    confidence: float, threshold: float, assertion: str, setting: Setting
) -> tuple[RuleCitation, ...]:
    """Why the cut shows a code: the note states it with this confidence (I.A.19), and what
    its assertion made of it (an uncertain inpatient diagnosis is coded as if established,
    II.H / III.C; a past or a relative's condition becomes its history code, I.C.21.c.4)."""
    out = [
        RuleCitation(
            "cut.confidence",
            "I.A.19",
            f"the note states it: confidence {confidence:.2f} at or above {threshold:.2f}",
        )
    ]
    if assertion == "possible" and setting == "inpatient":
        out.append(
            RuleCitation(
                "assertion.uncertain_inpatient",
                "II.H; III.C",
                "an uncertain diagnosis at discharge is coded as if established (inpatient)",
            )
        )
    elif assertion in ("historical", "family"):
        out.append(
            RuleCitation(
                f"assertion.{assertion}",
                "I.C.21.c.4",
                "a past or a relative's condition is coded with its history code",
            )
        )
    return tuple(out)


def suggest(
    per_system: Mapping[System, tuple[list[CodeCandidate], dict[str, CodeRecord], Any]],
    ranker: Ranker | None,
    text: str,
    setting: Setting,
    stated: float,
    not_evidence: frozenset[tuple[int, int]] = frozenset(),
    cues: Mapping[tuple[int, int], tuple[int, int]] | None = None,
    tagged: frozenset[tuple[int, int, str]] | None = None,
    asserted: Mapping[tuple[int, int], str] | None = None,
) -> list[Suggestion]:
    """Every candidate as a suggestion with its confidence (the ranker's calibrated
    probability, else the best weighted support), ``shown`` at or above its system's
    threshold, ranked per system by confidence. Spans in ``not_evidence`` are never a
    suggestion's evidence; a suggestion's evidence is the spans that state its code
    (:func:`cac.coding.evidence.select`, which reads the tagger's spans in ``tagged``), widened
    to their assertion cue in ``cues``; ``asserted`` holds each span's assertion."""
    suggestions = []
    note = NoteStatements(text) if len(text) < SHORT_NOTE_CHARS else None
    for system, (candidates, records, rows) in per_system.items():
        if ranker is not None and system in ranker.systems():
            codes = [c.code for c in candidates]
            confidences = [float(p) for p in ranker.confidence(system, rows, codes)]
            threshold = ranker.thresholds.get(system, DEFAULT_SHOW_THRESHOLD)
        else:
            confidences = [min(1.0, aggregate(c.weighted)) for c in candidates]
            threshold = SHOW_THRESHOLDS.get(system, DEFAULT_SHOW_THRESHOLD)
        for candidate, confidence in zip(candidates, confidences, strict=True):
            record = records.get(candidate.code)
            if record is None:
                continue
            confidence = short_note_floor(text, candidate, record, confidence, stated, note)
            shown = confidence >= threshold
            assertion = summary(candidate.assertions)
            stating = evidence.select(
                candidate, record, text, not_evidence, cues or {}, assertion, tagged, asserted
            )
            suggestions.append(
                Suggestion(
                    system=system,
                    code=record.display,
                    description=record.title,
                    confidence=confidence,
                    evidence=stating,
                    assertion=assertion,
                    demo=record.demo,
                    needs_specificity=not record.billable,
                    shown=shown,
                    rationale=why_shown(confidence, threshold, assertion, setting) if shown else (),
                )
            )
    order = {s: i for i, s in enumerate(System)}
    suggestions.sort(key=lambda s: (order[s.system], -s.confidence, s.code))
    return suggestions
