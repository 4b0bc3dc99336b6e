"""``cac.Coder``: one entry point from note text to ranked, evidenced code suggestions.

Current pipeline (a first baseline; see README "Coding"): tokens -> lexicon phrase matches
(mentions) -> assertion and section per mention (medspaCy ConText + sectionizer) -> guideline
rules (negated / hypothetical dropped, family -> Z80-Z84, resolved history -> Z85-Z87, uncertain
by setting) -> per-code score (the best matched phrase's train precision, co-occurrence phrases
down-weighted) -> billable
resolution -> suggestions ranked per system. The transformer mention model and learned ranking
are not in yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cac.codesets.records import CodeRecord, System
from cac.coding.guidelines import family_history_code, personal_history_code
from cac.coding.lexicon import Lexicon, LexiconEntry, PhraseMatch
from cac.config import get_settings
from cac.errors import CacError
from cac.kb.store import KnowledgeBase
from cac.nlp.context import AssertedSpan, AssertionAnnotator
from cac.nlp.tokens import tokenize

MAX_TEXT_CHARS = 100_000
# The shown list is cut per system at the confidence with the best micro-F1 on CodiEsp dev.
SHOW_THRESHOLDS = {System.ICD10CM: 0.30, System.ICD10PCS: 0.25}
DEFAULT_SHOW_THRESHOLD = 0.30
# Weight of a lexicon entry by where it came from; co-occurrence phrases are the noisiest.
# Chosen on CodiEsp dev (max-aggregation, weight 0.4: D MAP 0.403, P MAP 0.357; see README).
SOURCE_WEIGHTS = {"kb": 1.0, "train": 1.0, "cooc": 0.4}
DEFAULT_LEXICON = Path(__file__).parent.parent / "models" / "lexicon.json.gz"

Setting = Literal["inpatient", "outpatient"]


class CodingInputError(CacError):
    """The note cannot be coded: empty, too long, or not text."""


@dataclass(frozen=True, slots=True)
class Evidence:
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int
    text: str
    label: str
    assertion: str
    section: str | None


@dataclass(frozen=True, slots=True)
class Suggestion:
    system: System
    code: str
    description: str
    confidence: float
    evidence: tuple[Evidence, ...]
    assertion: str
    demo: bool
    needs_specificity: bool
    shown: bool


@dataclass(frozen=True)
class CodingResult:
    suggestions: list[Suggestion]
    mentions: list[Mention]
    model: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (see README)."""
        return {
            "suggestions": [
                {
                    "system": s.system.value,
                    "code": s.code,
                    "description": s.description,
                    "confidence": round(s.confidence, 4),
                    "evidence": [
                        {"start": e.start, "end": e.end, "text": e.text} for e in s.evidence
                    ],
                    "assertion": s.assertion,
                    "demo": s.demo,
                    "needs_specificity": s.needs_specificity,
                    "shown": s.shown,
                }
                for s in self.suggestions
            ],
            "mentions": [
                {
                    "start": m.start,
                    "end": m.end,
                    "text": m.text,
                    "label": m.label,
                    "assertion": m.assertion,
                    "section": m.section,
                }
                for m in self.mentions
            ],
            "model": self.model,
        }


def _label(system: System) -> str:
    return "DIAGNOSIS" if system is System.ICD10CM else "PROCEDURE"


class Coder:
    """Loads the knowledge base and models once; :meth:`code` is then cheap and thread-safe."""

    def __init__(
        self, kb: KnowledgeBase, lexicon: Lexicon, annotator: AssertionAnnotator | None = None
    ) -> None:
        self.kb = kb
        self.lexicon = lexicon
        self.annotator = annotator or AssertionAnnotator()
        # matched node -> code to suggest; the lexicon is fixed, so this only grows to its size
        self._targets: dict[tuple[System, str], tuple[System, str] | None] = {}
        self.model_info = {
            "kb": kb.manifest.content_hash[:12],
            "lexicon": str(lexicon.meta.get("train_hash", ""))[:12],
            "pipeline": "lexicon-context/1",
        }

    @classmethod
    def load(cls, kb_dir: Path | None = None, lexicon_path: Path | None = None) -> Coder:
        """The knowledge base under ``CAC_HOME`` and the committed lexicon."""
        kb = KnowledgeBase.open(kb_dir or get_settings().kb_dir)
        return cls(kb, Lexicon.load(lexicon_path or DEFAULT_LEXICON))

    def code(self, text: str, setting: Setting = "inpatient") -> CodingResult:
        """Suggest codes for one note.

        Raises:
            CodingInputError: empty or whitespace text, more than ``MAX_TEXT_CHARS`` characters,
                or text with NUL bytes (binary input).
        """
        if setting not in ("inpatient", "outpatient"):
            raise CodingInputError("setting must be 'inpatient' or 'outpatient'")
        if not text.strip():
            raise CodingInputError("the note is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise CodingInputError(
                f"the note has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}"
            )
        if "\x00" in text:
            raise CodingInputError("the note contains NUL bytes; send plain text")
        matches = list(self.lexicon.find(tokenize(text), text))
        spans = sorted({(m.start, m.end) for m in matches})
        asserted = {(a.start, a.end): a for a in self.annotator.annotate(text, spans)}
        mentions = self._mentions(matches, asserted, text)
        suggestions = self._suggest(matches, asserted, text, setting)
        return CodingResult(suggestions, mentions, dict(self.model_info))

    def _mentions(
        self,
        matches: list[PhraseMatch],
        asserted: dict[tuple[int, int], AssertedSpan],
        text: str,
    ) -> list[Mention]:
        seen: set[tuple[int, int, str]] = set()
        out = []
        for m in matches:
            span = asserted[(m.start, m.end)]
            for label in sorted({_label(e.system) for e in m.entries}):
                if (m.start, m.end, label) not in seen:
                    seen.add((m.start, m.end, label))
                    out.append(
                        Mention(
                            m.start,
                            m.end,
                            text[m.start : m.end],
                            label,
                            span.assertion,
                            span.section,
                        )
                    )
        return sorted(out, key=lambda m: (m.start, -m.end))

    def _apply_guidelines(
        self, target: tuple[System, str], assertion: str, setting: Setting
    ) -> tuple[System, str] | None:
        """The code a mention yields under its assertion, or None when it is not coded."""
        system, code = target
        if assertion in ("negated", "hypothetical"):
            return None
        if assertion == "possible" and setting == "outpatient":
            return None
        if assertion == "family":
            family = family_history_code(code) if system is System.ICD10CM else None
            return (System.ICD10CM, family) if family else None
        if assertion == "historical":
            if system is not System.ICD10CM:
                return None  # a past procedure is not performed in this encounter
            history = personal_history_code(code)
            return (System.ICD10CM, history) if history else target
        return target

    def _suggest(
        self,
        matches: list[PhraseMatch],
        asserted: dict[tuple[int, int], AssertedSpan],
        text: str,
        setting: Setting,
    ) -> list[Suggestion]:
        best: dict[tuple[System, str], float] = defaultdict(float)
        evidence: dict[tuple[System, str], dict[tuple[int, int], Evidence]] = defaultdict(dict)
        assertions: dict[tuple[System, str], set[str]] = defaultdict(set)
        best_per_span: dict[tuple[System, str, int, int], LexiconEntry] = {}
        for m in matches:
            for entry in m.entries:
                key = (entry.system, entry.code, m.start, m.end)
                if key not in best_per_span or entry.precision > best_per_span[key].precision:
                    best_per_span[key] = entry
        for (system, code, start, end), entry in best_per_span.items():
            billable = self._billable(system, code)
            assertion = asserted[(start, end)].assertion
            target = self._apply_guidelines(billable, assertion, setting) if billable else None
            if target is None:
                continue
            weighted = entry.precision * SOURCE_WEIGHTS.get(entry.source, 1.0)
            best[target] = max(best[target], weighted)
            evidence[target][(start, end)] = Evidence(start, end, text[start:end])
            assertions[target].add(assertion)
        suggestions = []
        for (system, code), confidence in best.items():
            record = self.kb.get(system, code)
            if record is None:
                continue
            suggestions.append(
                Suggestion(
                    system=system,
                    code=record.display,
                    description=record.title,
                    confidence=confidence,
                    evidence=tuple(
                        sorted(evidence[(system, code)].values(), key=lambda e: e.start)
                    ),
                    assertion=_summary(assertions[(system, code)]),
                    demo=record.demo,
                    needs_specificity=not record.billable,
                    shown=confidence >= SHOW_THRESHOLDS.get(system, DEFAULT_SHOW_THRESHOLD),
                )
            )
        order = {s: i for i, s in enumerate(System)}
        suggestions.sort(key=lambda s: (order[s.system], -s.confidence, s.code))
        return suggestions

    def _billable(self, system: System, code: str) -> tuple[System, str] | None:
        """The code to suggest for a matched node: itself if billable, else a default child.

        ICD-10-PCS partial codes stay partial (flagged "needs specificity" downstream).
        """
        key = (system, code)
        if key not in self._targets:
            self._targets[key] = self._resolve(system, code)
        return self._targets[key]

    def _resolve(self, system: System, code: str) -> tuple[System, str] | None:
        record = self.kb.get(system, code)
        if record is None or not record.active:
            return None
        if record.billable or system is not System.ICD10CM:
            return (system, record.code)
        return (system, _default_child(self.kb, record).code)


def _summary(assertions: set[str]) -> str:
    """One assertion for a code supported by several mentions: ``present`` if any is."""
    for candidate in ("present", "possible", "historical", "family"):
        if candidate in assertions:
            return candidate
    return "present"


def _default_child(kb: KnowledgeBase, record: CodeRecord) -> CodeRecord:
    """The billable code a non-specific mention most likely means: an 'unspecified' child,
    else one 'without complication', else the first billable descendant, else the node itself."""
    below = kb.billable_descendants(record.system, record.code, limit=200)
    for marker in ("unspecified", "without complication", "initial encounter"):
        for child in below:
            if marker in child.title.lower():
                return child
    return below[0] if below else record
