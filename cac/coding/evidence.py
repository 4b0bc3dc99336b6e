"""Evidence a coder can check: for each suggestion, the words of the note that state its code.

A candidate is reached through spans of many kinds: lexicon phrases (a code's own title or
index term, a phrase aligned to it on CodiEsp train, a phrase that merely co-occurs with it),
tagger spans linked by search or dense retrieval, and sibling expansions. Only a span whose
words say the code's concept is its evidence:

* a phrase of the code's own title, inclusion or index terms (lexicon source ``kb``, stated
  titles ``title``) always is;
* a phrase CodiEsp's coders gave as the code's evidence (lexicon source ``train``, aligned at
  ``KNOWN_MIN_SCORE`` or more) is: "hyporeflexia" states R29.2 *Abnormal reflex* with no word
  in common;
* any other span is when its words (with the abbreviation table and word equivalences expanded:
  "CHF" says "congestive heart failure", "rectal bleeding" says "hemorrhage of rectum") name
  the code (:func:`names`): two content words of one of its terms, or the term's only one,
  generic words ("disease", "unspecified", "acute", "left") aside. "kidney disease" is not the
  evidence of R50.9 *Fever*, nor "type 2 diabetes" of I10, nor "rectal" of K62.5.

With the tagger, the last two must also lie in a mention the tagger found of the code's kind
(a known phrase may be a whole tagger span of another label: the tagger calls "strabismus" a
procedure now and then).

A historical or family assertion widens the span to its ConText cue ("History of colon
cancer", "Mother had breast cancer") when no other mention or list separator stands between
them ("Past Medical History: COPD, GERD" leaves GERD's evidence "GERD"). A code that no span
states is ``inferred``: it has no evidence span, and it stays above the cut only when the ranker
is at least ``INFERRED_CONFIDENCE`` sure of it (:func:`finish`, rule ``evidence.inferred``).
Offsets are checked against the text on the way out (:func:`check_offsets`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache

from cac.codesets.records import CodeRecord, System
from cac.coding.records import Evidence, Suggestion, Suppression
from cac.coding.statements import content_stems, expansions_in, record_requirements, stem
from cac.errors import CacError
from cac.ranking.features import CodeCandidate, mention_label

DIRECT_SOURCES = frozenset({"kb", "title"})
# phrases CodiEsp-X annotators (or title alignment on train) tied to the code, and how sure
KNOWN_SOURCES = frozenset({"train"})
KNOWN_MIN_SCORE = 0.5
# A shown code that no span states stays shown only at this confidence or above: where such codes
# are right about as often as stated ones. On CodiEsp dev (250 notes; README "Evidence")
# README) inferred D codes at 0.5-0.6 confidence were in the gold 22 of 50 times, at 0.6-0.7 7 of
# 12, at 0.7-0.8 25 of 33 (stated codes there: 125 of 190); inferred P codes at 0.6-0.7 1 of 5.
INFERRED_CONFIDENCE = 0.7
INFERRED_RULE = "evidence.inferred"
INFERRED_SECTION = "I.A.19"
MAX_SPANS = 10  # evidence spans per suggestion, the tightest first in text order
NEAR_CUE = 40  # characters between a cue and its mention for one widened span
_GENERIC_REST = 80  # characters of generic words a span may take from its mention
_TOKEN = re.compile(r"[a-z0-9]+")  # the words of a span, as the expansion table splits them
_GENERIC_WORDS = (
    "disease disorder condition abnormal abnormality syndrome unspecified other specified acute "
    "chronic left right bilateral type stage site part region initial encounter subsequent "
    "sequela status personal history family"
)
_GENERIC = frozenset(stem(w) for w in _GENERIC_WORDS.split())
_MEMO = 100_000  # concept stems memoised per process (a bounded, cleared dict)
_CONCEPTS: dict[tuple[System, str], frozenset[str]] = {}


class InternalEvidenceError(CacError):
    """An evidence span does not index the note it claims to (a bug; never note text)."""


def concept_stems(record: CodeRecord) -> frozenset[str]:
    """The stems a code's title, inclusion terms and index terms need, generic words aside."""
    key = (record.system, record.code)
    if key not in _CONCEPTS:
        if len(_CONCEPTS) >= _MEMO:
            _CONCEPTS.clear()
        needs = (r.need for r in record_requirements(record))
        _CONCEPTS[key] = frozenset().union(*needs) - _GENERIC
    return _CONCEPTS[key]


@lru_cache(maxsize=50_000)
def said_stems(words: str) -> frozenset[str]:
    """What a span says: its content stems, and those of the expansions its words hold."""
    stems = set(content_stems(words))
    for _, long in _expansions_said(words):
        stems |= content_stems(" ".join(long))
    return frozenset(stems - _GENERIC)


def plain_stems(words: str) -> frozenset[str]:
    """A span's own content stems, generic words aside (no expansions: "HIV" is "hiv")."""
    return content_stems(words) - _GENERIC


def _expansions_said(words: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The (short form, expansion) pairs whose short form ``words`` hold."""
    tokens = _TOKEN.findall(words.lower())
    joined = f" {' '.join(tokens)} "
    return [(s, long) for s, long in expansions_in(tokens) if f" {' '.join(s)} " in joined]


def used_stems(words: str, need: frozenset[str]) -> frozenset[str]:
    """The stems of ``words`` that go to stating a title that needs ``need``: those it needs,
    and the words of a short form whose expansion says some of them ("injury" of "pressure
    injury", which says *pressure ulcer*)."""
    used = set(need)
    for short, long in _expansions_said(words):
        if content_stems(" ".join(long)) & need:
            used |= content_stems(" ".join(short))
    return frozenset(used)


def states(record: CodeRecord, words: str) -> bool:
    """Whether ``words`` say ``record``'s concept (share a content stem with its terms)."""
    return bool(concept_stems(record) & said_stems(words))


def names(record: CodeRecord, words: str) -> bool:
    """A stricter :func:`states`: ``words`` say two content stems of one of the code's terms
    (title, inclusion or index term), or its only one ("pitting edema" names *Edema*; "left
    atrial enlargement" does not name *Atrial fibrillation*)."""
    return _names_said(record, said_stems(words))


def _names_said(record: CodeRecord, said: frozenset[str]) -> bool:
    for requirement in record_requirements(record):
        need = requirement.need - _GENERIC
        if need and len(need & said) >= min(2, len(need)):
            return True
    return False


def _kind(words: str) -> str:
    token = words.strip()
    if " " not in token and 2 <= len(token) <= 6 and sum(c.isupper() for c in token) >= 2:
        return "abbreviation"
    return "mention"


def select(
    candidate: CodeCandidate,
    record: CodeRecord,
    text: str,
    not_evidence: frozenset[tuple[int, int]],
    cues: Mapping[tuple[int, int], tuple[int, int]],
    assertion: str,
    tagged: frozenset[tuple[int, int, str]] | None = None,
    asserted: Mapping[tuple[int, int], str] | None = None,
) -> tuple[Evidence, ...]:
    """The spans among ``candidate``'s supports that state ``record``, widened to their cue
    for a historical or family code, at most ``MAX_SPANS``; empty when none does.

    With the tagger's spans (``tagged``: start, end, label), a span that is not the code's own
    title or index phrase states it only inside a mention the tagger found of the code's kind
    (a known phrase, ``KNOWN_SOURCES``, also as a whole tagger span of any label):
    "chest" in "chest pain" shares a word with *Plain Radiography of Chest* but is no X-ray,
    "atrial" in "left atrial enlargement" is no atrial fibrillation. A code none of its own
    supports states (one reached by neighbour votes or a sibling) takes the tagger's mentions
    of its kind that name it (:func:`names`) and carry its assertion (``asserted``: a span's
    ConText assertion, present when absent): a relative's "headaches" are not the evidence of
    the patient's R51.9.
    """
    label = mention_label(record.system)
    index = _index(tagged or frozenset(), label, text)
    whole = index.whole
    spans: set[tuple[int, int]] = set()
    for support in candidate.supports:
        span = (support.start, support.end)
        if span in not_evidence:
            continue
        direct = support.source in DIRECT_SOURCES
        known = support.source in KNOWN_SOURCES and support.score >= KNOWN_MIN_SCORE
        if direct or (
            (known or names(record, text[span[0] : span[1]]))
            and (
                tagged is None
                or any(index.holds(span, m, record) for m in index.overlapping(span))
                or (known and span in whole and _kind(text[span[0] : span[1]]) != "abbreviation")
            )
        ):
            spans.add(span)
        elif tagged is not None and (joined := _joined(span, index.beside(span), text, record)):
            spans.add(joined)
    spans = {_to_edges(span, index.overlapping(span), text) for span in spans}
    if not spans:  # reached otherwise (votes, a sibling): a mention that names it outright
        spans = {
            (a, b)
            for a, b in index.spans
            if index.names(record, (a, b))
            and _same_assertion((asserted or {}).get((a, b)), assertion)
        }
    out: list[Evidence] = []
    for start, end in sorted(spans, key=lambda s: (s[1] - s[0], s))[:MAX_SPANS]:
        kind = _kind(text[start:end])
        cue = cues.get((start, end)) if assertion in ("historical", "family") else None
        if cue is not None and _widens(text, (start, end), cue, tagged):
            start, end = min(start, cue[0]), max(end, cue[1])
        out.append(Evidence(start, end, text[start:end], kind))
    return tuple(sorted(dict.fromkeys(out), key=lambda e: (e.start, e.end)))


_HEAD_WORD = re.compile(r"[A-Za-z]{3,}")
_HEAD_END = re.compile(r"\s(?:of|in|with|on|at|due|to|for|from)\s|[,;(]")


class _MentionIndex:
    """One note's tagger mentions of one kind, sorted for range lookups, with each mention's
    head and said stems worked out once (a note repeating one phrase a thousand times, or one
    mention spanning most of it, costs in proportion to its length, not its square)."""

    def __init__(self, tagged: frozenset[tuple[int, int, str]], label: str, text: str) -> None:
        self.text = text
        self.spans = sorted((a, b) for a, b, kind in tagged if kind == label)
        self.starts = [a for a, _ in self.spans]
        self.longest = max((b - a for a, b in self.spans), default=0)
        self.whole = frozenset((a, b) for a, b, _ in tagged)
        self._heads: dict[tuple[int, int], tuple[int, str] | None] = {}
        self._said: dict[tuple[int, int], frozenset[str]] = {}

    def _window(self, start: int, end: int) -> list[tuple[int, int]]:
        """Mentions starting in [start - longest, end): every one that can reach [start, end)."""
        lo = bisect.bisect_left(self.starts, start - self.longest)
        hi = bisect.bisect_left(self.starts, end)
        return self.spans[lo:hi]

    def overlapping(self, span: tuple[int, int]) -> list[tuple[int, int]]:
        return [m for m in self._window(span[0], span[1]) if m[1] > span[0]]

    def beside(self, span: tuple[int, int]) -> list[tuple[int, int]]:
        """Mentions ending at most a character before ``span`` or starting at most one after."""
        return [
            m for m in self._window(span[0] - 1, span[1] + 2) if m[1] <= span[0] or span[1] <= m[0]
        ]

    def head(self, mention: tuple[int, int]) -> tuple[int, str] | None:
        """Where the mention's head word starts (the last content word before a preposition or
        a comma) and its stem; None when it has no content word."""
        if mention not in self._heads:
            a, b = mention
            words = self.text[a:b]
            cut = _HEAD_END.search(words)
            phrase = words[: cut.start()] if cut else words
            found = None
            for m in _HEAD_WORD.finditer(phrase):
                key = stem(m.group().lower())
                if key not in _GENERIC:
                    found = (a + m.start(), key)
            self._heads[mention] = found
        return self._heads[mention]

    def holds(self, span: tuple[int, int], mention: tuple[int, int], record: CodeRecord) -> bool:
        """Whether ``span`` lies in the tagger's ``mention`` as words that can state ``record``:
        it overlaps the mention and is not a modifier of another head ("stress" of "stress
        ulcer" is no *Reaction to severe stress*, "myeloma" of "multiple myeloma oncogene 1" no
        myeloma). A span inside the mention that stops short of its head modifies it, unless
        the code's concept has the head's word too ("diabetes" of "diabetes mellitus")."""
        a, b = mention
        if not (a < span[1] and span[0] < b):
            return False
        if span[0] < a or b < span[1]:
            return True
        head = self.head(mention)
        if head is None or span[1] > head[0]:
            return True
        return head[1] in concept_stems(record)

    def names(self, record: CodeRecord, mention: tuple[int, int]) -> bool:
        """:func:`names` over the mention's words, their stems worked out once."""
        if mention not in self._said:
            self._said[mention] = said_stems(self.text[mention[0] : mention[1]])
        return _names_said(record, self._said[mention])


@lru_cache(maxsize=4)
def _index(tagged: frozenset[tuple[int, int, str]], label: str, text: str) -> _MentionIndex:
    """The index of the note being coded (its candidates all ask for the same one)."""
    return _MentionIndex(tagged, label, text)


def _to_edges(span: tuple[int, int], mentions: list[tuple[int, int]], text: str) -> tuple[int, int]:
    """``span`` out to the edges of the tagger mention it lies in, when what it leaves out is
    generic words only: "coronary artery" of "coronary artery disease" is the whole mention."""
    for a, b in mentions:
        # a few generic words at most: a longer rest is read no further
        short = (span[0] - a) + (b - span[1]) <= _GENERIC_REST
        if a <= span[0] and span[1] <= b and (a, b) != span and short:
            rest = text[a : span[0]] + " " + text[span[1] : b]
            if all(stem(w) in _GENERIC for w in _TOKEN.findall(rest.lower())):
                return a, b
    return span


def _joined(
    span: tuple[int, int], mentions: list[tuple[int, int]], text: str, record: CodeRecord
) -> tuple[int, int] | None:
    """``span`` and a tagger mention of the code's kind right beside it (only a space or a
    hyphen between), when the two together name the code: the tagger found "radiograph" in
    "A chest radiograph", and "chest" came from the lexicon."""
    for a, b in mentions:
        if b <= span[0]:
            start, end, gap = a, span[1], text[b : span[0]]
        elif span[1] <= a:
            start, end, gap = span[0], b, text[span[1] : a]
        else:
            continue
        if gap in (" ", "-") and names(record, text[start:end]):
            return start, end
    return None


def _same_assertion(mention: str | None, code: str) -> bool:
    """Whether a mention asserted ``mention`` can state a code asserted ``code``: the same
    assertion, present and possible counting as one (an uncertain diagnosis is coded as
    established inpatient, II.H)."""
    current = {"present", "possible"}
    mention = mention or "present"
    return mention == code or (mention in current and code in current)


def _widens(
    text: str,
    span: tuple[int, int],
    cue: tuple[int, int],
    tagged: frozenset[tuple[int, int, str]] | None,
) -> bool:
    """Whether ``span``'s evidence takes in its cue: one near it, with no list separator and no
    other mention between them ("Past Medical History: COPD, GERD" is GERD's history and COPD's,
    so GERD's evidence stays "GERD")."""
    gap = (cue[1], span[0]) if cue[1] <= span[0] else (span[1], cue[0])
    if gap[1] - gap[0] > NEAR_CUE or any(c in text[gap[0] : gap[1]] for c in ",;"):
        return False
    return not any(gap[0] <= a and b <= gap[1] for a, b, _ in tagged or ())


def tidy(spans: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """One entry per offsets (the first kind), no span inside another, in text order."""
    by_offsets: dict[tuple[int, int], Evidence] = {}
    for e in spans:
        by_offsets.setdefault((e.start, e.end), e)
    kept = [
        e
        for e in by_offsets.values()
        if not any(
            o is not e and o.start <= e.start and e.end <= o.end for o in by_offsets.values()
        )
    ]
    return tuple(sorted(kept, key=lambda e: (e.start, e.end))[:MAX_SPANS])


def finish(suggestions: list[Suggestion], text: str) -> list[Suggestion]:
    """The way out: each suggestion's evidence tidied (:func:`tidy`), a shown code without
    evidence kept shown only when the ranker is confident of it, offsets checked."""
    out = []
    for s in suggestions:
        if len(s.evidence) > 1:
            tidied = tidy(s.evidence)
            if tidied != s.evidence:
                s = replace(s, evidence=tidied)
        if s.shown and not s.evidence and s.confidence < INFERRED_CONFIDENCE:
            s = replace(
                s,
                shown=False,
                rationale=(),
                suppressed_by=Suppression(
                    INFERRED_RULE,
                    INFERRED_SECTION,
                    None,
                    f"no words of the note state it (inferred at {s.confidence:.2f}, below "
                    f"{INFERRED_CONFIDENCE:.2f})",
                ),
            )
        out.append(s)
    check_offsets(out, text)
    return out


def check_offsets(suggestions: Iterable[Suggestion], text: str) -> None:
    """Every evidence span indexes ``text``: ``text[start:end] == evidence.text``.

    Raises:
        InternalEvidenceError: naming the code and offsets (never the text).
    """
    for s in suggestions:
        for e in s.evidence:
            if not (0 <= e.start < e.end <= len(text)) or text[e.start : e.end] != e.text:
                raise InternalEvidenceError(
                    f"evidence of {s.system.value} {s.code} at {e.start}-{e.end} does not "
                    "index the note"
                )
