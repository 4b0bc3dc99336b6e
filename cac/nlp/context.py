"""Assertion and sections for mention spans: medspaCy ConText and sectionizer over scispaCy tokens.

A blank English spaCy pipeline with scispaCy's rule tokenizer, our clinical sentence splitter
(``cac_sentences``, :mod:`cac.nlp.sentences`), scispaCy's ``AbbreviationDetector`` (abbreviations
the note defines, "chronic kidney disease (CKD)"), the medspaCy sectionizer and ConText (default
English rules plus ours in ``data/context_rules.json``). A note is parsed in two steps:
:meth:`AssertionAnnotator.parse` (tokens, sentences, abbreviations) and
:meth:`AssertionAnnotator.annotate`, which takes mention character spans (they may overlap, so
they go into a span group rather than ``doc.ents``) and gives each an assertion and a section.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

Assertion = Literal["present", "negated", "possible", "hypothetical", "historical", "family"]
SPAN_GROUP = "cac_mentions"
# When several modifiers apply, the one that changes coding the most wins.
_PRECEDENCE: tuple[tuple[str, Assertion], ...] = (
    ("is_negated", "negated"),
    ("is_family", "family"),
    ("is_hypothetical", "hypothetical"),
    ("is_historical", "historical"),
    ("is_uncertain", "possible"),
)
_SECTION_ASSERTIONS: dict[str, Assertion] = {
    "family_history": "family",
    "past_medical_history": "historical",
    "past_surgical_history": "historical",
}


@dataclass(frozen=True, slots=True)
class AssertedSpan:
    """A mention span's assertion and the section it sits in (None outside any section)."""

    start: int
    end: int
    assertion: Assertion
    section: str | None
    # the characters of the ConText cue that gave the assertion ("history of", "mother"); None
    # for "present" and for an assertion read from the section
    cue: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """A short form the note defines, at one place it occurs, with its long form's text."""

    start: int
    end: int
    long_form: str


@dataclass(frozen=True)
class ParsedNote:
    """A note after tokens, sentences and abbreviations; input to :meth:`annotate`."""

    text: str
    doc: Doc
    abbreviations: tuple[Abbreviation, ...]
    # token ranges of the ConText triggers in the note ("negative", "history of")
    triggers: tuple[tuple[int, int], ...] = ()


# Components run by parse(); the rest run by annotate().
_PARSE_PIPES = ("cac_sentences", "abbreviation_detector")


def build_nlp() -> Language:
    """The assertion pipeline; built once per process (a few hundred ms)."""
    import medspacy  # noqa: F401 - registers the medspacy_* factories
    import scispacy.abbreviation  # noqa: F401 - registers "abbreviation_detector"
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    import cac.nlp.sentences  # noqa: F401 - registers "cac_sentences"

    nlp = spacy.blank("en")
    nlp.tokenizer = combined_rule_tokenizer(nlp)
    nlp.add_pipe("cac_sentences")
    nlp.add_pipe("abbreviation_detector")
    nlp.add_pipe(
        "medspacy_sectionizer",
        config={"input_span_type": "group", "span_group_name": SPAN_GROUP},
    )
    context = nlp.add_pipe(
        "medspacy_context",
        # A modifier inside a mention is part of it ("diabetes without complications").
        config={
            "input_span_type": "group",
            "span_group_name": SPAN_GROUP,
            "prune_on_target_overlap": True,
            "rules": None,
        },
    )
    rules = resources.files("cac.nlp") / "data" / "context_rules.json"
    from medspacy.context import ConTextRule

    ours = ConTextRule.from_json(str(rules))
    # Our rule for a phrase replaces medspaCy's: on a tie the first-loaded wins, and "ruled out"
    # after its target ("Pulmonary embolism ruled out") must look backward.
    literals = {r.literal.lower() for r in ours}
    defaults = [
        r
        for r in ConTextRule.from_json(context.DEFAULT_RULES_FILEPATH)  # type: ignore[attr-defined]
        if r.literal.lower() not in literals
    ]
    context.add(defaults + ours)  # type: ignore[attr-defined]
    return nlp


def trigger_matcher(nlp: Language) -> Any:
    """A matcher of the pipeline's ConText trigger phrases alone (medspaCy's own matcher, built
    from the same rules), to find the mention spans that hold a trigger."""
    from medspacy.common.medspacy_matcher import MedspacyMatcher

    matcher = MedspacyMatcher(nlp, name="cac_triggers")
    matcher.add(nlp.get_pipe("medspacy_context").rules)  # type: ignore[attr-defined]
    return matcher


def modifier_phrases(nlp: Language) -> set[str]:
    """Normalised ConText trigger phrases ("no evidence", "mother", "history") and every
    contiguous part of them: words that modify a mention and must never be a mention."""
    from cac.nlp.tokens import normalize_phrase

    phrases: set[str] = set()
    for rule in nlp.get_pipe("medspacy_context").rules:  # type: ignore[attr-defined]
        words = list(normalize_phrase(rule.literal))
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                phrases.add(" ".join(words[i:j]))
        for token in rule.pattern or []:
            choices = token.get("LOWER", {})
            if isinstance(choices, dict):
                phrases.update(" ".join(normalize_phrase(w)) for w in choices.get("IN", []))
            elif isinstance(choices, str):
                phrases.add(" ".join(normalize_phrase(choices)))
    phrases.discard("")
    return phrases


class AssertionAnnotator:
    """Thread-safe wrapper: spaCy pipelines are not safe to share across threads mid-call."""

    def __init__(self, nlp: Language | None = None) -> None:
        self._nlp = nlp or build_nlp()
        self._triggers = trigger_matcher(self._nlp)
        self._lock = threading.Lock()

    def cue_phrases(self) -> set[str]:
        """Normalised ConText trigger phrases of this pipeline (:func:`modifier_phrases`)."""
        with self._lock:
            return modifier_phrases(self._nlp)

    def parse(self, text: str) -> ParsedNote:
        """Tokens, sentences, the abbreviations the note defines and its ConText triggers."""
        with self._lock:
            doc = self._nlp.make_doc(text)
            for name, component in self._nlp.pipeline:
                if name in _PARSE_PIPES:
                    doc = component(doc)
            triggers = tuple((a, b) for _, a, b in self._triggers(doc))
        found = tuple(
            Abbreviation(a.start_char, a.end_char, a._.long_form.text)
            for a in getattr(doc._, "abbreviations", [])
        )
        return ParsedNote(text, doc, found, triggers)

    def annotate(self, note: str | ParsedNote, spans: list[tuple[int, int]]) -> list[AssertedSpan]:
        """Assertion and section for each ``(start, end)`` character span, in input order.

        ConText drops a trigger that overlaps a mention (a mention's own words never modify it:
        "diabetes without complications"), and with it the trigger's hold on every other
        mention. A span that holds a trigger ("HIV negative", a phrase the lexicon knows) is
        therefore asserted in a second pass, apart from the rest: "HIV" beside it stays negated.
        """
        if not spans:
            return []
        parsed = note if isinstance(note, ParsedNote) else self.parse(note)
        out = [AssertedSpan(s, e, "present", None) for s, e in spans]
        with self._lock:
            doc = parsed.doc
            placed: list[tuple[int, Span]] = []
            for i, (start, end) in enumerate(spans):
                span = doc.char_span(start, end, label="MENTION", alignment_mode="expand")
                if span is not None:
                    placed.append((i, span))
            holding = [
                (i, s)
                for i, s in placed
                if any(s.start <= a and b <= s.end for a, b in parsed.triggers)
            ]
            plain = [p for p in placed if p not in holding]
            for group in (plain, holding):
                if group:
                    self._context(doc, group, spans, out)
        return out

    def _context(
        self,
        doc: Doc,
        group: list[tuple[int, Span]],
        spans: list[tuple[int, int]],
        out: list[AssertedSpan],
    ) -> None:
        """Sections and ConText over one group of mention spans (the lock held)."""
        doc.spans[SPAN_GROUP] = [span for _, span in group]
        for name, component in self._nlp.pipeline:
            if name not in _PARSE_PIPES:
                doc = component(doc)
        for (i, _), span in zip(group, doc.spans[SPAN_GROUP], strict=True):
            start, end = spans[i]
            assertion = _assertion(span)
            out[i] = AssertedSpan(start, end, assertion, _section(span), _cue(doc, span, assertion))


# ConText's modifier categories per assertion
_CATEGORIES: dict[str, frozenset[str]] = {
    "negated": frozenset({"NEGATED_EXISTENCE"}),
    "family": frozenset({"FAMILY"}),
    "hypothetical": frozenset({"HYPOTHETICAL"}),
    "historical": frozenset({"HISTORICAL"}),
    "possible": frozenset({"POSSIBLE_EXISTENCE"}),
}


def _cue(doc: Doc, span: Span, assertion: Assertion) -> tuple[int, int] | None:
    """The character span of the nearest modifier that gave ``span`` its assertion."""
    wanted = _CATEGORIES.get(assertion)
    if not wanted:
        return None
    best: tuple[int, tuple[int, int]] | None = None
    for modifier in getattr(span._, "modifiers", ()):
        if str(modifier.category).upper() not in wanted:
            continue
        first, last = modifier.modifier_span
        cue = doc[first:last]
        gap = max(cue.start_char - span.end_char, span.start_char - cue.end_char, 0)
        if best is None or gap < best[0]:
            best = (gap, (cue.start_char, cue.end_char))
    return best[1] if best else None


def _section(span: Span) -> str | None:
    section = getattr(span._, "section_category", None)
    return str(section) if section else None


def _assertion(span: Span) -> Assertion:
    for attribute, assertion in _PRECEDENCE:
        if getattr(span._, attribute, False):
            return assertion
    section = _section(span)
    return _SECTION_ASSERTIONS.get(section or "", "present")
