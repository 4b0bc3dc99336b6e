"""``cac.Coder``: one entry point from note text to ranked, evidenced code suggestions.

Pipeline (see README "Coding"):

1. parse: scispaCy tokens, clinical sentences (``cac_sentences``), scispaCy abbreviations the
   note defines;
2. mentions: the fine-tuned MiniLM tagger (DIAGNOSIS / PROCEDURE spans, when
   ``models/mention`` exists) and the high-recall lexicon phrase matcher; a defined abbreviation
   ("CKD" after "chronic kidney disease (CKD)") takes the codes of its long form;
3. linking: lexicon phrases carry their codes; a tagger span the lexicon does not cover is linked
   by knowledge-base search (TF-IDF + rapidfuzz);
4. assertion and section per mention (medspaCy ConText + sectionizer), then guideline rules
   (negated / hypothetical dropped, family -> Z80-Z84, resolved history -> Z85-Z87, uncertain by
   setting);
5. candidates: every code the supports reach, plus unshown sibling alternatives (other codes of
   the category seen in CodiEsp train) and, with a bi-encoder, dense-retrieval hits per span;
   how much of each candidate's title the note says (:mod:`cac.ranking.title_evidence`);
6. confidence: the learned ranker (``models/ranker``, :mod:`cac.ranking`) scores each
   candidate from its features and calibrates the score to a probability; without a ranker, the
   best weighted support. Billable resolution; ranked per system; the shown list is cut at a
   per-system threshold.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cac.codesets.records import CodeRecord, System
from cac.coding.conventions import Conventions
from cac.coding.cut import (
    DEFAULT_SHOW_THRESHOLD,
    SHORT_NOTE_CHARS,
    SHOW_THRESHOLDS,
    short_note_floor,
    stated_confidence,
    why_shown,
)
from cac.coding.guidelines import (
    family_history_code,
    personal_history_code,
    procedure_status_code,
)
from cac.coding.lexicon import Lexicon, LexiconEntry, PhraseMatch
from cac.coding.records import Evidence, Mention, RuleCitation, Suggestion, Suppression
from cac.coding.statements import NoteStatements
from cac.config import get_settings
from cac.errors import CacError
from cac.kb.store import KnowledgeBase
from cac.linking.search import CodeSearcher
from cac.nlp.context import AssertedSpan, AssertionAnnotator, ParsedNote
from cac.nlp.tokens import normalize_phrase, tokenize
from cac.ranking.features import (
    CodeCandidate,
    NoteContext,
    Support,
    feature_matrix,
    mention_label,
)
from cac.ranking.neighbours import NoteNeighbours
from cac.ranking.title_evidence import TitleEvidence

if TYPE_CHECKING:
    from cac.linking.dense import DenseRetriever
    from cac.nlp.mention_model import MentionModel
    from cac.ranking.model import Ranker

__all__ = [
    "Coder",
    "CodingInputError",
    "CodingResult",
    "Evidence",
    "Mention",
    "NoteAnalysis",
    "RuleCitation",
    "Suggestion",
    "Suppression",
]

MAX_TEXT_CHARS = 100_000
# Weight of a lexicon entry by where it came from; co-occurrence phrases are the noisiest.
# Chosen on CodiEsp dev (see README "Coding a note"): co-occurrence 0.4; tagger spans linked by
# search 0.4 (0.2: D MAP 0.397, 0.3: 0.398, 0.4: 0.399, 0.5: 0.396, 0.6: 0.391).
# Dense-retrieval hits and sibling expansions only reach the ranker: without it they weigh 0 and
# stay in the unshown tail.
SOURCE_WEIGHTS = {
    "kb": 1.0,
    "train": 1.0,
    "cooc": 0.4,
    "search": 0.4,
    "dense": 0.0,
    "sibling": 0.0,
}
# Dense retrieval: the best DENSE_TOP codes of the span's system for every tagger span.
DENSE_TOP = 5
DENSE_SYSTEMS = {"DIAGNOSIS": System.ICD10CM, "PROCEDURE": System.ICD10PCS}
# Sibling expansion: a candidate's category (first three characters) proposes its other codes
# seen in CodiEsp train (prior > 0), at most SIBLINGS of them, most frequent first.
SIBLINGS = 8
# A tagger span the lexicon does not cover is linked to this many search candidates, scored
# SOURCE_WEIGHTS["search"] * (search score - SEARCH_FLOOR) / (1 - SEARCH_FLOOR).
SEARCH_TOP = 2
SEARCH_FLOOR = 0.6
# How several supports of one code combine: "max" or "noisy_or" (max: D MAP 0.393, noisy-OR
# 0.231 on CodiEsp dev; many weak co-occurrence supports must not add up).
AGGREGATION = "max"
MODELS_DIR = Path(__file__).parent.parent / "models"
DEFAULT_LEXICON = MODELS_DIR / "lexicon.json.gz"
DEFAULT_MENTION_MODEL = MODELS_DIR / "mention"
DEFAULT_PRIORS = MODELS_DIR / "code_priors.json"
DEFAULT_RANKER = MODELS_DIR / "ranker"
DEFAULT_BIENCODER = MODELS_DIR / "biencoder"
LEXICON_FILE = DEFAULT_LEXICON.name
PRIORS_FILE = DEFAULT_PRIORS.name
# Procedure spans are not searched: linking them by string search cost P MAP on CodiEsp dev
# (0.357 -> 0.339); ICD-10-PCS titles read nothing like notes.
_SEARCH_SYSTEMS = {"DIAGNOSIS": System.ICD10CM}

Setting = Literal["inpatient", "outpatient"]


class CodingInputError(CacError):
    """The note cannot be coded: empty, too long, or not text."""


@dataclass(frozen=True)
class NoteAnalysis:
    """A note's mentions and candidate codes before scoring (see :meth:`Coder.analyse`)."""

    mentions: list[Mention]
    candidates: dict[tuple[System, str], CodeCandidate]
    note: NoteContext


@dataclass(frozen=True)
class CodingResult:
    suggestions: list[Suggestion]
    mentions: list[Mention]
    model: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (see README)."""
        return {
            "suggestions": [s.to_json() for s in self.suggestions],
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


class Coder:
    """Loads the knowledge base and models once; :meth:`code` is then cheap and thread-safe."""

    def __init__(
        self,
        kb: KnowledgeBase,
        lexicon: Lexicon,
        annotator: AssertionAnnotator | None = None,
        tagger: MentionModel | None = None,
        priors: dict[tuple[System, str], float] | None = None,
        ranker: Ranker | None = None,
        dense: DenseRetriever | None = None,
        neighbours: NoteNeighbours | None = None,
        conventions: bool = True,
    ) -> None:
        self.kb = kb
        # the coding conventions over the cut list (cac.coding.conventions); off only to measure
        self.conventions = Conventions(kb) if conventions else None
        self.stated_confidence = stated_confidence()
        self.lexicon = lexicon
        self.annotator = annotator or AssertionAnnotator()
        self.tagger = tagger
        self.priors = priors or {}
        self.ranker = ranker
        self.dense = dense
        # similar coded notes vote for codes: the ranker's memory unless one is given
        self.neighbours = neighbours or (ranker.neighbours if ranker is not None else None)
        # words weighted by their rarity among the memory's notes; vectors from the tagger's table
        self.titles = TitleEvidence(
            kb,
            self.neighbours.weight if self.neighbours is not None else None,
            tagger.static_vectors() if tagger is not None else None,
        )
        self._categories: dict[tuple[System, str], list[str]] | None = None
        self.searcher = CodeSearcher(kb)
        self._cues: set[str] | None = None
        self._cue_words: set[str] = set()
        # matched node -> code to suggest; the lexicon is fixed, so this only grows to its size
        self._targets: dict[tuple[System, str], tuple[System, str] | None] = {}
        # what the lexicon holds; for lexicons built before content hashes, their train data
        named = lexicon.meta.get("content_hash") or lexicon.meta.get("train_hash", "")
        self.model_info = {
            "kb": kb.manifest.content_hash[:12],
            "lexicon": str(named)[:12],
            "mention_model": tagger.version if tagger else "none (phrase matcher only)",
            "pipeline": "tagger-lexicon-context/2" if tagger else "lexicon-context/2",
            "ranker": ranker.version if ranker else "none (heuristic confidence)",
        }
        if dense is not None:
            self.model_info["biencoder"] = dense.encoder.version
        if self.neighbours is not None:
            self.model_info["neighbours"] = f"{len(self.neighbours)} coded notes"

    @classmethod
    def load(
        cls,
        kb_dir: Path | None = None,
        lexicon_path: Path | None = None,
        mention_dir: Path | None = None,
        ranker_dir: Path | None = None,
    ) -> Coder:
        """The knowledge base under ``CAC_HOME``, the committed lexicon and, when it has been
        trained, the mention tagger and the ranker: for each, the registry's ``champion`` version
        (``cac-mention-tagger``, ``cac-ranker``) if there is one (``cac.registry.resolve``), else
        the committed folder under ``models/``.

        Without the tagger the coder still works on the phrase matcher alone; ``model`` in every
        result says which was used.
        """
        kb = KnowledgeBase.open(kb_dir or get_settings().kb_dir)
        directory, mention_source = _model_dir("mention", mention_dir, DEFAULT_MENTION_MODEL)
        tagger = None
        if (directory / "config.json").exists():
            from cac.nlp.mention_model import MentionModel

            tagger = MentionModel(directory)
        ranker_path, ranker_source = _model_dir("ranker", ranker_dir, DEFAULT_RANKER)
        ranker = None
        if (ranker_path / "meta.json").exists():
            from cac.ranking.model import Ranker

            ranker = Ranker.load(ranker_path)
        dense = None
        if ranker is not None and ranker.meta.get("dense_encoder"):
            from cac.linking.dense import DenseRetriever

            encoder_path, encoder_source = _model_dir("biencoder", None, DEFAULT_BIENCODER)
            dense = DenseRetriever.load(kb, encoder_path, systems=list(DENSE_SYSTEMS.values()))
        # A ranker trained on its own lexicon and priors carries them (the feedback loop's
        # sandboxed retraining does); the production ranker uses the committed files.
        own_lexicon = ranker_path / LEXICON_FILE if ranker is not None else None
        own_priors = ranker_path / PRIORS_FILE if ranker is not None else None
        if lexicon_path is None and own_lexicon is not None and own_lexicon.exists():
            lexicon_path = own_lexicon
        coder = cls(
            kb,
            Lexicon.load(lexicon_path or DEFAULT_LEXICON),
            tagger=tagger,
            priors=load_priors(
                own_priors if own_priors is not None and own_priors.exists() else DEFAULT_PRIORS
            ),
            ranker=ranker,
            dense=dense,
        )
        coder.model_info["ranker_source"] = ranker_source if ranker else "none"
        if dense is not None:
            coder.model_info["biencoder_source"] = encoder_source
        coder.model_info["mention_model_source"] = mention_source if tagger else "none"
        return coder

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
        analysis = self.analyse(text, setting)
        suggestions = self._suggest(analysis, text, setting)
        if self.conventions is not None:
            suggestions = self.conventions.apply(suggestions, text)
        return CodingResult(suggestions, analysis.mentions, dict(self.model_info))

    def analyse(self, text: str, setting: Setting = "inpatient") -> NoteAnalysis:
        """Mentions and every candidate code with its supports, before scoring (``code`` minus
        the ranking; the ranker's training reads its features from here)."""
        parsed = self.annotator.parse(text)
        matches = [
            m for m in self.lexicon.find(tokenize(text), text) if not self._cue_only(m.phrase)
        ]
        matches += self._abbreviation_matches(parsed, matches)
        tagged = self.tagged_spans(text)
        matches += self._search_matches(tagged, matches, text)
        matches += self._dense_matches(tagged, text)
        labelled = {(s, e, label) for s, e, label in tagged}
        for m in matches:
            if m.entries and not m.entries[0].source.startswith("search"):
                labelled.update((m.start, m.end, mention_label(e.system)) for e in m.entries)
        spans = sorted({(m.start, m.end) for m in matches} | {(s, e) for s, e, _ in labelled})
        asserted = {(a.start, a.end): a for a in self.annotator.annotate(parsed, spans)}
        mentions = [
            Mention(s, e, text[s:e], label, asserted[(s, e)].assertion, asserted[(s, e)].section)
            for s, e, label in sorted(labelled, key=lambda m: (m[0], -m[1], m[2]))
        ]
        candidates = self._candidates(matches, asserted, setting)
        votes = self.neighbours.votes(text) if self.neighbours is not None else {}
        if votes:
            self._add_voted(candidates, votes, self._denied(matches, asserted, setting, text))
        titles = self.titles.columns(text, candidates)
        note = NoteContext(len(text), frozenset(tagged), votes, titles)
        return NoteAnalysis(mentions, candidates, note)

    def _denied(
        self,
        matches: list[PhraseMatch],
        asserted: dict[tuple[int, int], AssertedSpan],
        setting: Setting,
        text: str,
    ) -> tuple[set[tuple[System, str]], list[str]]:
        """What the note says is not to be coded as such: the categories of the codes its
        negated, hypothetical, family or (outpatient) uncertain mentions link to, and those
        mentions' words. Similar notes must not bring such a code back without evidence."""
        categories: set[tuple[System, str]] = set()
        phrases: list[str] = []
        for m in matches:
            assertion = asserted[(m.start, m.end)].assertion
            if any(
                self._apply_guidelines((e.system, e.code), assertion, setting) == (e.system, e.code)
                for e in m.entries
            ):
                continue  # coded as it stands
            categories.update((e.system, e.code[:3]) for e in m.entries)
            phrases.append(" ".join(normalize_phrase(text[m.start : m.end])))
        return categories, [p for p in phrases if p]

    def _add_voted(
        self,
        candidates: dict[tuple[System, str], CodeCandidate],
        votes: dict[tuple[System, str], Any],
        denied: tuple[set[tuple[System, str]], list[str]],
    ) -> None:
        """The codes similar coded notes vote for, as candidates without evidence, less the
        denied ones (a category the note negates, or a title naming a negated mention)."""
        categories, phrases = denied
        for system, code in votes:
            if (system, code) in candidates or (system, code[:3]) in categories:
                continue
            record = self.kb.get(system, code)
            if record is None or not record.active:
                continue
            title = " ".join(normalize_phrase(record.title))
            if any(f" {p} " in f" {title} " for p in phrases):
                continue
            candidates[(system, code)] = CodeCandidate(system, code)

    def features(self, analysis: NoteAnalysis) -> dict[System, tuple[list[CodeCandidate], Any]]:
        """Per system: the note's candidates and their feature rows (:mod:`cac.ranking`)."""
        return {
            system: (candidates, rows)
            for system, (candidates, _, rows) in self._by_system(analysis).items()
        }

    def _by_system(
        self, analysis: NoteAnalysis
    ) -> dict[System, tuple[list[CodeCandidate], dict[str, CodeRecord], Any]]:
        """Per system: the note's candidates, their knowledge-base records and feature rows."""
        by_system: dict[System, list[CodeCandidate]] = defaultdict(list)
        for candidate in analysis.candidates.values():
            by_system[candidate.system].append(candidate)
        out = {}
        for system, candidates in by_system.items():
            records = self._records(system, candidates)
            billable = {(system, code): bool(r.billable) for code, r in records.items()}
            rows = feature_matrix(candidates, analysis.note, self.priors, billable)
            out[system] = (candidates, records, rows)
        return out

    def _records(self, system: System, candidates: list[CodeCandidate]) -> dict[str, CodeRecord]:
        """The knowledge-base records of ``candidates``' codes (one query for those stored as
        they are written, the rest one by one); codes the knowledge base lacks are absent."""
        codes = sorted({c.code for c in candidates})
        found = self.kb.get_many(system, codes)
        for code in codes:
            if code not in found and (record := self.kb.get(system, code)) is not None:
                found[code] = record
        return found

    def _cue_only(self, span: str) -> bool:
        """Whether a span is only assertion cue words ("No history"): as a mention it would
        hide its cue from ConText and lose its meaning."""
        if self._cues is None:
            self._cues = self.annotator.cue_phrases()
            self._cue_words = {w for cue in self._cues for w in cue.split()}
        words = normalize_phrase(span)
        return bool(words) and all(w in self._cue_words for w in words)

    def tagged_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Tagger spans, less those that are only an assertion cue ("s/p", "history"): a cue
        inside a mention would be pruned by ConText and lose its meaning."""
        if self.tagger is None:
            return []
        out = []
        for start, end, label in self.tagger.predict(text):
            words = normalize_phrase(text[start:end])
            if self._cue_only(text[start:end]):
                continue
            if sum(c.isalnum() for c in text[start:end]) >= 2 and " ".join(words) not in (
                self._cues or ()
            ):
                out.append((start, end, label))
        return out

    def _abbreviation_matches(
        self, parsed: ParsedNote, matches: list[PhraseMatch]
    ) -> list[PhraseMatch]:
        """Each use of an abbreviation the note defines, with the codes of its long form."""
        out = []
        for abbreviation in parsed.abbreviations:
            long_form = " ".join(normalize_phrase(abbreviation.long_form))
            entries = self.lexicon.phrases.get(long_form)
            if entries is None:
                inside = list(self.lexicon.find(tokenize(long_form), long_form))
                if not inside:
                    continue
                longest = max(inside, key=lambda m: (m.end - m.start, -m.start))
                entries = longest.entries
            out.append(PhraseMatch(abbreviation.start, abbreviation.end, long_form, entries))
        return out

    def _search_matches(
        self, tagged: list[tuple[int, int, str]], matches: list[PhraseMatch], text: str
    ) -> list[PhraseMatch]:
        """Tagger spans the lexicon does not cover, linked by knowledge-base search.

        (Searching the covered spans too, as low-weight alternatives, cost D MAP on dev: 0.383.)
        """
        covered = {(m.start, m.end) for m in matches}
        out = []
        for start, end, label in tagged:
            system = _SEARCH_SYSTEMS.get(label)
            query = text[start:end]
            if system is None or (start, end) in covered or not any(c.isalpha() for c in query):
                continue
            entries = tuple(
                LexiconEntry(
                    system,
                    c.code,
                    (c.score - SEARCH_FLOOR) / (1 - SEARCH_FLOOR),
                    "search",
                )
                for c in self.searcher.search(query, system, limit=SEARCH_TOP)
                if c.score > SEARCH_FLOOR
            )
            if entries:
                out.append(PhraseMatch(start, end, query, entries))
        return out

    def _dense_matches(self, tagged: list[tuple[int, int, str]], text: str) -> list[PhraseMatch]:
        """Every tagger span's nearest codes by the bi-encoder (one batched encode per note)."""
        if self.dense is None or not tagged:
            return []
        spans = [(s, e, label) for s, e, label in tagged if label in DENSE_SYSTEMS]
        if not spans:
            return []
        vectors = self.dense.encode([text[s:e] for s, e, _ in spans])
        out = []
        for label, system in DENSE_SYSTEMS.items():
            rows = [i for i, (_, _, lab) in enumerate(spans) if lab == label]
            if not rows:
                continue
            hits = self.dense.search_vectors(vectors[rows], system, DENSE_TOP)
            for i, found in zip(rows, hits, strict=True):
                start, end, _ = spans[i]
                entries = tuple(
                    LexiconEntry(system, code, max(0.0, score), "dense") for code, score in found
                )
                if entries:
                    out.append(PhraseMatch(start, end, text[start:end], entries))
        return out

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
                # a past procedure is not performed in this encounter; its status may be coded
                status = procedure_status_code(system.value, code)
                return (System.ICD10CM, status) if status else None
            history = personal_history_code(code)
            return (System.ICD10CM, history) if history else target
        return target

    def _candidates(
        self,
        matches: list[PhraseMatch],
        asserted: dict[tuple[int, int], AssertedSpan],
        setting: Setting,
    ) -> dict[tuple[System, str], CodeCandidate]:
        """Every code the matches support, after billable resolution and the guidelines."""
        best_per_span: dict[tuple[System, str, int, int], LexiconEntry] = {}
        for m in matches:
            for entry in m.entries:
                key = (entry.system, entry.code, m.start, m.end)
                if key not in best_per_span or entry.precision > best_per_span[key].precision:
                    best_per_span[key] = entry
        candidates: dict[tuple[System, str], CodeCandidate] = {}
        for (system, code, start, end), entry in best_per_span.items():
            billable = self._billable(system, code)
            span = asserted[(start, end)]
            target = self._apply_guidelines(billable, span.assertion, setting) if billable else None
            if target is None:
                continue
            candidate = candidates.get(target)
            if candidate is None:
                candidate = candidates[target] = CodeCandidate(*target)
            candidate.supports.append(Support(entry.precision, entry.source, start, end))
            candidate.weighted.append(entry.precision * SOURCE_WEIGHTS.get(entry.source, 1.0))
            candidate.assertions.add(span.assertion)
            candidate.sections.add(span.section)
        for (system, code), found in list(candidates.items()):
            for sibling in self._siblings(system, code):
                expansion = candidates.get((system, sibling))
                if expansion is None:
                    expansion = candidates[(system, sibling)] = CodeCandidate(system, sibling)
                elif any(s.source != "sibling" for s in expansion.supports):
                    continue  # the code has evidence of its own
                for support in found.supports:
                    expansion.supports.append(
                        Support(found.heuristic, "sibling", support.start, support.end)
                    )
                expansion.weighted.append(0.0)
                expansion.assertions |= found.assertions
                expansion.sections |= found.sections
        return candidates

    def _siblings(self, system: System, code: str) -> list[str]:
        """Other codes of ``code``'s category seen in train, most frequent first."""
        if self._categories is None:
            groups: dict[tuple[System, str], list[tuple[float, str]]] = defaultdict(list)
            for (sys_, c), prior in self.priors.items():
                record = self.kb.get(sys_, c)
                if (
                    record is not None
                    and record.active
                    and (record.billable or sys_ is not System.ICD10CM)
                ):
                    groups[(sys_, c[:3])].append((prior, c))
            self._categories = {
                key: [c for _, c in sorted(items, key=lambda t: (-t[0], t[1]))[:SIBLINGS]]
                for key, items in groups.items()
            }
        return [c for c in self._categories.get((system, code[:3]), []) if c != code]

    def _suggest(
        self, analysis: NoteAnalysis, text: str, setting: Setting = "inpatient"
    ) -> list[Suggestion]:
        suggestions = []
        note = NoteStatements(text) if len(text) < SHORT_NOTE_CHARS else None
        for system, (candidates, records, rows) in self._by_system(analysis).items():
            if self.ranker is not None and system in self.ranker.systems():
                codes = [c.code for c in candidates]
                confidences = [float(p) for p in self.ranker.confidence(system, rows, codes)]
                threshold = self.ranker.thresholds.get(system, DEFAULT_SHOW_THRESHOLD)
            else:
                confidences = [min(1.0, aggregate(c.weighted)) for c in candidates]
                threshold = SHOW_THRESHOLDS.get(system, DEFAULT_SHOW_THRESHOLD)
            for candidate, confidence in zip(candidates, confidences, strict=True):
                record = records.get(candidate.code)
                if record is None:
                    continue
                confidence = short_note_floor(
                    text, candidate, record, confidence, self.stated_confidence, note
                )
                spans = sorted({(s.start, s.end) for s in candidate.supports})
                shown = confidence >= threshold
                assertion = _summary(candidate.assertions)
                suggestions.append(
                    Suggestion(
                        system=system,
                        code=record.display,
                        description=record.title,
                        confidence=confidence,
                        evidence=tuple(Evidence(s, e, text[s:e]) for s, e in spans),
                        assertion=assertion,
                        demo=record.demo,
                        needs_specificity=not record.billable,
                        shown=shown,
                        rationale=why_shown(confidence, threshold, assertion, setting)
                        if shown
                        else (),
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


def _model_dir(kind: str, given: Path | None, default: Path) -> tuple[Path, str]:
    """A model folder given by the caller, else the registry's champion, else ``default``."""
    if given is not None:
        return given, "files"
    from cac.registry import resolve

    resolved = resolve(kind, default)
    return resolved.path, resolved.label


def load_priors(path: Path) -> dict[tuple[System, str], float]:
    """Code priors written by ``training/priors.py``; none when the file is absent.

    Raises:
        CacError: if the file is not the expected JSON.
    """
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {
            (System(system), code): float(prior)
            for system, codes in raw.items()
            for code, prior in codes.items()
        }
    except (ValueError, AttributeError) as exc:
        raise CacError(f"{path.name} is not a code-priors file ({type(exc).__name__})") from None


def aggregate(scores: list[float], how: str | None = None) -> float:
    """One confidence from the scores of a code's supports (each in [0, 1])."""
    how = how or AGGREGATION
    if how == "max":
        return max(scores, default=0.0)
    miss = 1.0
    for score in scores:
        miss *= 1.0 - min(max(score, 0.0), 1.0)
    return 1.0 - miss


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
