"""``cac.Coder``: one entry point from note text to ranked, evidenced code suggestions.

The coder loads the knowledge base and models once and orchestrates typed stages:

1. parse and mentions: scispaCy tokens, clinical sentences, defined abbreviations; the MiniLM
   tagger's spans and the lexicon's phrase matches; ConText assertion and sections;
2. linking (:mod:`cac.linking.matches`): abbreviation long forms, knowledge-base search and
   dense-retrieval hits for tagger spans; in a short note, the codes whose whole title a
   sentence states (:mod:`cac.coding.stated_titles`);
3. candidates (:mod:`cac.coding.candidates`): assertion guidelines, billable resolution,
   sibling alternatives, neighbour votes; title evidence and feature rows for the ranker;
4. cut (:mod:`cac.coding.cut`): calibrated confidence, the short-note floor, ``shown``;
5. conventions (:mod:`cac.coding.conventions`): the ICD-10-CM conventions over the cut list,
   with ``rationale`` and ``suppressed_by``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cac.codesets.records import CodeRecord, System
from cac.coding import evidence
from cac.coding.candidates import CandidateAssembler
from cac.coding.conventions import Conventions
from cac.coding.cut import (
    HEADED_SECTIONS,
    SHORT_NOTE_CHARS,
    stated_confidence,
    suggest,
)
from cac.coding.lexicon import Lexicon, PhraseMatch
from cac.coding.records import (
    Demographics,
    Evidence,
    Mention,
    RuleCitation,
    Suggestion,
    Suppression,
)
from cac.coding.stated_titles import StatedTitles
from cac.config import get_settings
from cac.errors import CacError, ConfigError
from cac.kb.store import KnowledgeBase
from cac.linking.matches import DENSE_SYSTEMS, MatchSources
from cac.linking.search import CodeSearcher
from cac.model_files import SOURCE_MODELS_DIR, ModelFiles
from cac.nlp import not_conditions
from cac.nlp.context import AssertionAnnotator
from cac.nlp.tokens import normalize_phrase, tokenize
from cac.ranking.features import (
    CodeCandidate,
    NoteContext,
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
    "Demographics",
    "Evidence",
    "Mention",
    "NoteAnalysis",
    "RuleCitation",
    "Suggestion",
    "Suppression",
]

MAX_TEXT_CHARS = 100_000
# A tagger span is one of the client's mentions at this confidence (mean in-mention probability
# of its word pieces); chosen on cac's MACCROBAT dev slice (README "Mentions").
MENTION_CONFIDENCE = 0.65
# The repository's model files, which training/ reads and writes (a checkout only). The coder
# loads from the configured folder instead (CAC_MODELS_DIR, cac.model_files).
MODELS_DIR = SOURCE_MODELS_DIR
_SOURCE = ModelFiles(SOURCE_MODELS_DIR)
DEFAULT_LEXICON = _SOURCE.lexicon
DEFAULT_MENTION_MODEL = _SOURCE.mention
DEFAULT_PRIORS = _SOURCE.priors
DEFAULT_RANKER = _SOURCE.ranker
DEFAULT_BIENCODER = _SOURCE.biencoder
LEXICON_FILE = DEFAULT_LEXICON.name
PRIORS_FILE = DEFAULT_PRIORS.name
Setting = Literal["inpatient", "outpatient"]


class CodingInputError(CacError):
    """The note cannot be coded: empty, too long, or not text."""


@dataclass(frozen=True)
class NoteAnalysis:
    """A note's mentions and candidate codes before scoring (see :meth:`Coder.analyse`)."""

    mentions: list[Mention]
    candidates: dict[tuple[System, str], CodeCandidate]
    note: NoteContext
    # spans that feed the ranker but are never evidence: assertion cue words only ("had no")
    cue_spans: frozenset[tuple[int, int]] = frozenset()
    # each asserted span's ConText cue ("history of"): historical and family evidence holds it
    cues: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    # tagger spans with the model's confidence (the client's mentions are the confident ones)
    tagged: dict[tuple[int, int, str], float] = field(default_factory=dict)
    # each asserted span's assertion ("family" for the mother's "headaches")
    assertions: dict[tuple[int, int], str] = field(default_factory=dict)


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
                    "codes": list(m.codes),
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
        stated_titles: bool = True,
        stated: float | None = None,
    ) -> None:
        self.kb = kb
        # the measured precision of a stated title (models/stated_precision.json)
        self.stated_confidence = stated if stated is not None else stated_confidence()
        # the coding conventions over the cut list (cac.coding.conventions); off only to measure
        self.conventions = Conventions(kb, self.stated_confidence) if conventions else None
        # short notes: codes whose whole title a sentence states (index built on first use)
        self.stated_titles = StatedTitles(kb) if stated_titles else None
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
        self.searcher = CodeSearcher(kb)
        # the stages: match sources, candidate assembly, then (in code) the cut and conventions
        self.sources = MatchSources(lexicon, self.searcher, dense)
        self.assembler = CandidateAssembler(kb, self.priors)
        self._cues: set[str] | None = None
        self._cue_words: set[str] = set()
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
        models: ModelFiles | None = None,
    ) -> Coder:
        """The knowledge base under ``CAC_HOME``, the committed lexicon and, when it has been
        trained, the mention tagger and the ranker: for each, the registry's ``champion`` version
        (``cac-mention-tagger``, ``cac-ranker``) if there is one (``cac.registry.resolve``), else
        the folder in ``models`` (default: ``CAC_MODELS_DIR``, else the checkout's ``models/``,
        else ``$CAC_HOME/models``; :meth:`ModelFiles.configured`).

        Raises:
            KnowledgeBaseError: no knowledge base.
            ConfigError: no lexicon in the models folder (``CAC_MODELS_DIR``).

        Without the tagger the coder still works on the phrase matcher alone; ``model`` in every
        result says which was used.
        """
        kb = KnowledgeBase.open(kb_dir or get_settings().kb_dir)
        files = models or ModelFiles.configured()
        if lexicon_path is None and not files.lexicon.exists():
            raise ConfigError(
                f"no model files in {files.root} ({files.lexicon.name} is missing); set "
                "CAC_MODELS_DIR to a copy of the repository's models/ folder"
            )
        directory, mention_source = _model_dir("mention", mention_dir, files.mention)
        tagger = None
        if (directory / "config.json").exists():
            from cac.nlp.mention_model import MentionModel

            tagger = MentionModel(directory)
        ranker_path, ranker_source = _model_dir("ranker", ranker_dir, files.ranker)
        ranker = None
        if (ranker_path / "meta.json").exists():
            from cac.ranking.model import Ranker

            ranker = Ranker.load(ranker_path)
        dense = None
        if ranker is not None and ranker.meta.get("dense_encoder"):
            from cac.linking.dense import DenseRetriever

            encoder_path, encoder_source = _model_dir("biencoder", None, files.biencoder)
            dense = DenseRetriever.load(kb, encoder_path, systems=list(DENSE_SYSTEMS.values()))
        # A ranker trained on its own lexicon and priors carries them (the feedback loop's
        # sandboxed retraining does); the production ranker uses the committed files.
        own_lexicon = ranker_path / LEXICON_FILE if ranker is not None else None
        own_priors = ranker_path / PRIORS_FILE if ranker is not None else None
        if lexicon_path is None and own_lexicon is not None and own_lexicon.exists():
            lexicon_path = own_lexicon
        coder = cls(
            kb,
            Lexicon.load(lexicon_path or files.lexicon),
            tagger=tagger,
            priors=load_priors(
                own_priors if own_priors is not None and own_priors.exists() else files.priors
            ),
            ranker=ranker,
            dense=dense,
            stated=stated_confidence(files.stated_precision),
        )
        coder.model_info["ranker_source"] = ranker_source if ranker else "none"
        if dense is not None:
            coder.model_info["biencoder_source"] = encoder_source
        coder.model_info["mention_model_source"] = mention_source if tagger else "none"
        return coder

    def code(
        self,
        text: str,
        setting: Setting = "inpatient",
        demographics: Demographics | None = None,
    ) -> CodingResult:
        """Suggest codes for one note.

        Args:
            text: The note.
            setting: Decides how uncertain diagnoses are coded.
            demographics: The patient's age and sex, when the sender gave them (a FHIR Bundle's
                ``Patient``). The coding stages take them; no rule reads them yet (the age and
                sex edits and the impact stage will).

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
        suggestions = suggest(
            self._by_system(analysis),
            self.ranker,
            text,
            setting,
            self.stated_confidence,
            not_evidence=analysis.cue_spans,
            cues=analysis.cues,
            tagged=frozenset(analysis.tagged) if self.tagger is not None else None,
            asserted=analysis.assertions,
        )
        if self.conventions is not None:
            suggestions = self.conventions.apply(suggestions, text)
        suggestions = evidence.finish(suggestions, text)
        return CodingResult(
            suggestions, client_mentions(analysis, suggestions), dict(self.model_info)
        )

    def analyse(self, text: str, setting: Setting = "inpatient") -> NoteAnalysis:
        """Mentions and every candidate code with its supports, before scoring (``code`` minus
        the ranking; the ranker's training reads its features from here)."""
        parsed = self.annotator.parse(text)
        found = list(self.lexicon.find(tokenize(text), text))
        # A span of cue words only ("had no", "no history") would hide its negation from
        # ConText: it is asserted apart, and it is never evidence; the ranker still reads it
        # (it was trained with it; dropping it cost 0.006 D MAP on CodiEsp dev).
        cues: list[PhraseMatch] = []
        matches: list[PhraseMatch] = []
        for m in found:
            (cues if self._cue_only(m.phrase) else matches).append(m)
        matches += self.sources.abbreviations(parsed, matches)
        scored = self._tagged(text)
        everything = [span for span, _ in scored]
        tagged = [t for t in everything if not self._cue_only(text[t[0] : t[1]])]
        cue_tagged = {(s, e) for s, e, _ in everything} - {(s, e) for s, e, _ in tagged}
        matches += self.sources.searched(everything, matches, text)
        matches += self.sources.dense_hits(everything, text)
        # "depression" of "LVEF depression" proposes no code (cac.nlp.not_conditions)
        blocked = not_conditions.phrases(text)
        if blocked:
            matches = [m for m in matches if not not_conditions.inside((m.start, m.end), blocked)]
        labelled = {(s, e, label) for s, e, label in tagged}
        for m in matches:
            if (m.start, m.end) in cue_tagged:
                continue
            if m.entries and not m.entries[0].source.startswith("search"):
                labelled.update((m.start, m.end, mention_label(e.system)) for e in m.entries)
        spans = sorted(
            ({(m.start, m.end) for m in matches} - cue_tagged) | {(s, e) for s, e, _ in labelled}
        )
        asserted = {(a.start, a.end): a for a in self.annotator.annotate(parsed, spans)}
        cue_spans = (frozenset((m.start, m.end) for m in cues) | cue_tagged) - set(asserted)
        for a in self.annotator.annotate(parsed, sorted(cue_spans)):
            asserted[(a.start, a.end)] = a
        matches += cues
        short = len(text) < SHORT_NOTE_CHARS
        headed = {a.section for a in asserted.values()} & HEADED_SECTIONS
        if self.stated_titles is not None and (short or headed):
            # asserted on their own: a title span holding a cue ("s/p", "family history of")
            # would hide it from the mentions it modifies
            stated = [
                m
                for m in self.stated_titles.matches(text)
                if not joins_list_items(text, (m.start, m.end), tagged)
                and not not_conditions.inside((m.start, m.end), blocked)
            ]
            own = sorted({(m.start, m.end) for m in stated} - set(asserted))
            for a in self.annotator.annotate(parsed, own):
                asserted[(a.start, a.end)] = a
            if not short:  # a longer note: what its assessment, problem or history lists
                # state, and a current drug wherever it is named (Z79.-: "on metformin")
                stated = [
                    m
                    for m in stated
                    if asserted[(m.start, m.end)].section in headed
                    or m.entries[0].code.startswith("Z79")
                ]
            labelled.update((m.start, m.end, "DIAGNOSIS") for m in stated)
            matches += stated
        mentions = [
            Mention(s, e, text[s:e], label, asserted[(s, e)].assertion, asserted[(s, e)].section)
            for s, e, label in sorted(labelled, key=lambda m: (m[0], -m[1], m[2]))
        ]
        candidates = self.assembler.assemble(matches, asserted, setting)
        votes = self.neighbours.votes(text) if self.neighbours is not None else {}
        if votes:
            denied = self.assembler.denied(matches, asserted, setting, text)
            self.assembler.add_voted(candidates, votes, denied)
        titles = self.titles.columns(text, candidates)
        note = NoteContext(len(text), frozenset(everything), votes, titles)
        cue_of = {span: a.cue for span, a in asserted.items() if a.cue is not None}
        said: dict[tuple[int, int], str] = {span: a.assertion for span, a in asserted.items()}
        return NoteAnalysis(mentions, candidates, note, cue_spans, cue_of, dict(scored), said)

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

    def _cue_phrases(self) -> set[str]:
        """The annotator's cue phrases (and their words, ``_cue_words``), loaded once."""
        if self._cues is None:
            self._cues = self.annotator.cue_phrases()
            self._cue_words = {w for cue in self._cues for w in cue.split()}
        return self._cues

    def _cue_only(self, span: str) -> bool:
        """Whether a span is only assertion cue words ("No history", "healed", "history"): as
        a mention it would hide its cue from ConText, so it is asserted apart and never
        evidence. (Dropping such spans outright cost 0.008 D MAP on CodiEsp dev.)"""
        self._cue_phrases()
        words = normalize_phrase(span)
        return bool(words) and all(w in self._cue_words for w in words)

    def tagged_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Tagger spans, less those that are only an assertion cue ("s/p", "history"): a cue
        inside a mention would be pruned by ConText and lose its meaning."""
        return [span for span, _ in self._tagged(text)]

    def _tagged(self, text: str) -> list[tuple[tuple[int, int, str], float]]:
        """:meth:`tagged_spans` with the tagger's confidence in each, split phrases joined
        (:func:`cac.nlp.mention_model.join_fragments`)."""
        if self.tagger is None:
            return []
        from cac.nlp.mention_model import join_fragments

        scored = getattr(self.tagger, "predict_scored", None)
        if scored is not None:
            found = scored(text)
        else:  # a tagger without confidences: every span counts as sure
            found = [(span, 1.0) for span in self.tagger.predict(text)]
        cues = self._cue_phrases()
        out = []
        for (start, end, label), score in found:
            start = self._past_cue(text, start, end)
            words = normalize_phrase(text[start:end])
            if sum(c.isalnum() for c in text[start:end]) >= 2 and " ".join(words) not in cues:
                out.append(((start, end, label), score))
        # joined after the cue-only spans are dropped: "s/p" + "lap chole" stays a cue and a
        # mention, so ConText still reads the procedure as past
        return join_fragments(text, out)

    def _past_cue(self, text: str, start: int, end: int) -> int:
        """Where a tagger span starts once a leading assertion cue is set apart ("s/p lap
        chole" -> "lap chole", "history of asthma" -> "asthma"): ConText reads the cue from the
        text before the mention, and a cue inside it would be pruned."""
        words = list(re.finditer(r"\S+", text[start:end]))
        for k in range(min(3, len(words) - 1), 0, -1):
            head = " ".join(normalize_phrase(text[start : start + words[k - 1].end()]))
            if head and head in self._cue_phrases():
                return start + words[k].start()
        return start


_LIST_SEPARATOR = re.compile(r"\s*[,;]\s*")


def joins_list_items(
    text: str, span: tuple[int, int], tagged: Iterable[tuple[int, int, str]]
) -> bool:
    """Whether ``span`` holds two of the tagger's diagnoses that only a comma or semicolon
    separates: items of a list ("COPD, GERD"), two conditions, not one title stated by their
    words together (K22.2 *Esophageal obstruction* from "obstructive" and "esophageal")."""
    inside = sorted(
        (a, b) for a, b, label in tagged if label == "DIAGNOSIS" and span[0] <= a and b <= span[1]
    )
    return any(_LIST_SEPARATOR.fullmatch(text[prev[1] : nxt[0]]) for prev, nxt in pairwise(inside))


def client_mentions(analysis: NoteAnalysis, suggestions: list[Suggestion]) -> list[Mention]:
    """The note's diagnoses and procedures for the client: tagger spans the tagger is at least
    ``MENTION_CONFIDENCE`` sure of, and phrase matches a shown code's evidence confirms, each
    with the shown codes whose evidence it is. Lexicon-only hits stay with the ranker."""
    shown = [s for s in suggestions if s.shown]
    kept: list[Mention] = []
    for m in analysis.mentions:
        confident = analysis.tagged.get((m.start, m.end, m.label), 0.0) >= MENTION_CONFIDENCE
        codes = tuple(
            s.code
            for s in shown
            if mention_label(s.system) == m.label
            and any(e.start < m.end and m.start < e.end for e in s.evidence)
        )
        if not confident and not codes:
            continue
        if not confident and _part_of_tagged_evidence(m, shown, analysis):
            continue  # "chest" of the evidence "chest radiograph": the tagger's span lists it
        if not confident and any(
            k.label == m.label and k.start < m.end and m.start < k.end for k in kept
        ):
            continue  # a confirmed phrase inside a mention already listed
        kept.append(replace(m, codes=codes))
    # a mention inside another of its label is listed once, as the longer one
    return [
        m
        for m in kept
        if not any(
            o is not m
            and o.label == m.label
            and o.start <= m.start
            and m.end <= o.end
            and (o.end - o.start) > (m.end - m.start)
            for o in kept
        )
    ]


def _part_of_tagged_evidence(m: Mention, shown: list[Suggestion], analysis: NoteAnalysis) -> bool:
    """Whether phrase ``m`` is only part of an evidence span that a confident tagger mention of
    its label makes up the rest of (a phrase and the tagger's mention beside it that name a
    code together, :func:`cac.coding.evidence.select`)."""
    tagged = [
        (a, b)
        for (a, b, label), p in analysis.tagged.items()
        if label == m.label and p >= MENTION_CONFIDENCE and not (a < m.end and m.start < b)
    ]
    return any(
        e.start <= m.start
        and m.end <= e.end
        and (e.end - e.start) > (m.end - m.start)
        and any(a < e.end and e.start < b for a, b in tagged)
        for s in shown
        if mention_label(s.system) == m.label
        for e in s.evidence
    )


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
