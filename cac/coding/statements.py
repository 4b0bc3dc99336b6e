"""Which code titles a note states: the matcher the specificity and combination rules read.

A code's title is compiled into what the note must say (Guidelines I.A conventions):

* words in parentheses are ICD's nonessential modifiers and are optional
  ("Systolic (congestive) heart failure" needs "systolic heart failure");
* "unspecified", "other", "NOS" and other words that state no axis are dropped, and so is the
  axis an "unspecified" names ("Sprain of unspecified ligament of left ankle" needs "sprain left
  ankle");
* "not specified as acute or chronic" forbids each word it lists;
* a residual title ("Other specified cough", "Other acute sinusitis") is never stated by its
  words alone: it is for a type the note names that has no code of its own, which only an index
  term or inclusion term says;
* a fracture not documented as open or closed is closed, and one not documented as displaced or
  not is displaced (I.C.19.c.1): "closed" and "displaced" are optional in a fracture title, and
  "open" and "nondisplaced" then forbid it;
* a "with X" clause needs X; a "without X" clause (up to a comma) needs X *not* stated, and so
  does "not X" ("not intractable"); "without aura" names a type, so the note must say it;
* word order is free within one sentence ("acute exacerbation of COPD" states
  "Chronic obstructive pulmonary disease with (acute) exacerbation");
* the note's abbreviations (``cac/nlp/data/abbreviations.tsv``) and a few word equivalences
  (``data/word_equivalents.tsv``: "cholelithiasis" ~ "calculus of gallbladder") are expanded;
* a title's inclusion terms are alternative titles.

A word preceded closely by "no", "without", "denies" or "negative for", or followed by "was not
detected" (seen, found, ...), does not count as stated.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources

from cac.codesets.records import CodeRecord, System
from cac.errors import SourceError

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.;!?])\s+|\n+")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_CLAUSE = re.compile(r"\b(with|without|and without|and with)\b")
# "unspecified ligament of", "unspecified organism" (at the end): the axis is not stated
_UNSPECIFIED_AXIS = re.compile(
    r"\bunspecified (?:ligament|organism|site|part|type|degree|stage|bone|level|side|lobe|"
    r"muscle|tendon|joint|region|cause|agent|substance)(?= of\b|\s*,|\s*$)"
)
_SITE_AFTER_OF = re.compile(r" of (?:left|right|unspecified|upper|lower|bilateral)\b")
# "without foreign body of scalp": the site after "foreign body of" is the title's, not the clause's
_FOREIGN_BODY_OF = re.compile(r"^\s*foreign body of ")
_EITHER = re.compile(r"\b([a-z]+) or ([a-z]+)\b(?! [a-z]+ (?:disease|neoplasm))")
_NOT_SPECIFIED = re.compile(r"\bnot specified as ([a-z ]+)")
# (title head stem, default word stem, the stem that documents the other value): I.C.19.c.1
_DEFAULTS = (("fracture", "closed", "open"), ("fracture", "displaced", "nondispla"))
_RESIDUAL = re.compile(r"^other\b|\bother specified\b|\bin diseases classified elsewhere\b")
# "without W" names a type of the condition, not the default absence of a complication
_TYPE_WORDS = frozenset({"aura"})
STEM = 9
_CONDITION_SUFFIX = re.compile(r"(uria|emia|opath(?:y|ies|ic))$")
# Title words that state no axis the note must mention.
_STOP = frozenset(
    re.findall(
        r"\w+",
        "unspecified other of and the in to not elsewhere classified specified or by for as a "
        "an on at from nos any all unsp more than one site part region uncomplicated",
    )
)
# Words whose negation a few words earlier means the note does not state what follows.
_NEGATORS = frozenset({"no", "without", "denies", "denied", "negative", "not", "nor"})
_NEGATION_REACH = 3
# "polyp or ulcer was not detected": a finding denied after it, over at most this many words
_BACKWARD_REACH = 6
_COPULAS = frozenset({"was", "were", "is", "are"})
_FOUND = frozenset(
    {"detected", "seen", "found", "identified", "observed", "noted", "visualized", "evident"}
    | {"present", "demonstrated", "appreciated"}
)
_CLAUSE_WORDS = frozenset({"but", "however", "although", "though", "whereas", "while"})
_SLACK = 1  # other words allowed per stated word in a title's span (see NoteStatements.compact)
_SPAN_CHOICES = 256  # stem sayings combined when looking for the tightest span
_INITIAL = re.compile(r"\b([A-Za-z])\.(?= [a-z])")
_DNR = ["do", "not", "resuscitate"]  # a status, not a negation
# "not related to X", "not due to X": X is denied as the cause, its words as well
_UNLINKED = frozenset({("related", "to"), ("due", "to"), ("caused", "by"), ("secondary", "to")})


def stem(word: str) -> str:
    """A crude stem: the first characters, plurals folded ("stages" ~ "stage"); a Latin
    genitive keeps its ending ("pneumoniae" is not "pneumonia")."""
    if len(word) > STEM and word.endswith("ae"):
        return word[: STEM - 2] + "ae"
    # a suffix past the stem that names another condition: "hemoglobinuria" is not "hemoglobin"
    if (m := _CONDITION_SUFFIX.search(word)) and m.start() > STEM:
        return word[:STEM] + "~" + m.group(1)[:4]
    # "carcinomatosis" (C80.0, disseminated) is not "carcinoma": its suffix starts at the stem
    if word.startswith("carcinomatos"):
        return "carcinoma~tosi"
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:STEM]


def content_stems(text: str) -> frozenset[str]:
    """The stems a phrase requires: its words less parentheses and the stop words."""
    return frozenset(
        stem(w) for w in _WORD.findall(_PAREN.sub(" ", text.lower())) if w not in _STOP
    )


@dataclass(frozen=True, slots=True)
class TitleRequirement:
    """What a note must (``need``) and must not (``forbid``) say to state one title."""

    need: frozenset[str]
    forbid: tuple[frozenset[str], ...] = ()
    # (word, number) pairs that must be adjacent: "stage 3" is not "stage ... 3"
    pairs: frozenset[tuple[str, str]] = frozenset()
    # a residual title ("Other ..."): never stated by its words alone
    residual: bool = False
    # stems the note must say are absent ("without aura": a type, not a default)
    absent: frozenset[str] = frozenset()
    # word pairs of which the note must say one ("bronchus or lung")
    either: tuple[frozenset[str], ...] = ()

    @property
    def weight(self) -> int:
        """How much the title says: its required stems (a more specific title says more)."""
        return len(self.need)


@lru_cache(maxsize=200_000)
def requirement(title: str) -> TitleRequirement:
    """Compile a title: the head and "with" clauses are needed, "without" clauses forbidden."""
    text = _PAREN.sub(" ", title.lower())
    residual = bool(_RESIDUAL.search(text.strip()))
    forbid: list[frozenset[str]] = []
    listed = _NOT_SPECIFIED.search(text)
    if listed:
        forbid += [frozenset({stem(w)}) for w in _WORD.findall(listed.group(1)) if w not in _STOP]
        text = text[: listed.start()] + text[listed.end() :]
    text = _UNSPECIFIED_AXIS.sub(" ", text)
    if text.startswith("encounter for "):  # the note is the encounter: "admitted for ..."
        text = text[len("encounter for ") :]
    either: list[frozenset[str]] = []
    for a, b in _EITHER.findall(text):  # "bronchus or lung": one of them
        if not {a, b} & (_STOP | {"with", "without"}):
            either.append(frozenset({stem(a), stem(b)}))
    text = _EITHER.sub(" ", text)
    parts = _CLAUSE.split(text)
    need: set[str] = set()
    absent: set[str] = set()
    for i in range(0, len(parts), 2):
        without = i > 0 and "without" in parts[i - 1]
        # a comma ends a "without" clause: "Migraine without aura, intractable, ..."
        chunks = parts[i].split(",")
        if without and (
            _SITE_AFTER_OF.search(chunks[0]) or _FOREIGN_BODY_OF.match(chunks[0])
        ):  # "without foreign body of left forearm"
            absent_part, _, rest = chunks[0].partition(" of ")
            chunks[0:1] = [absent_part, rest]
        for j, chunk in enumerate(chunks):
            words = content_stems(chunk.replace(" not ", " "))
            if not words:
                continue
            if without and j == 0:
                if words & _TYPE_WORDS:  # "without aura" names a type: the note must say it
                    absent |= words
                else:
                    forbid.append(words)
            elif re.match(r"\s*not\b", chunk):  # "not intractable"
                forbid.append(words)
            else:
                need |= words
    if "personal" in need:  # "history of X" is the patient's own unless a relative's
        need.discard("personal")
        forbid.append(frozenset({"family"}))
    for head, default, other in _DEFAULTS:
        if head in need and default in need:
            need.discard(default)
            forbid.append(frozenset({other}))
    # a word the title needs elsewhere forbids nothing: "without spontaneous rupture of ear
    # drum, left ear" needs "ear" and forbids "rupture"
    forbid = [f - need for f in forbid if f - need]
    ordered = [stem(w) for w in _WORD.findall(text) if w not in _STOP]
    pairs = {(a, b) for a, b in itertools.pairwise(ordered) if _numbered(b)}
    return TitleRequirement(
        frozenset(need), tuple(forbid), frozenset(pairs), residual, frozenset(absent), tuple(either)
    )


def _numbered(word: str) -> bool:
    """A number or a numbered value ("3", "3a"): it must follow its word in the note."""
    return word[:1].isdigit()


def record_requirements(record: CodeRecord) -> tuple[TitleRequirement, ...]:
    """The title, each inclusion term and each index term of an ICD-10-CM code, compiled
    (empty ones dropped). A term lives under its title: what the title's "without" clauses
    forbid, the term forbids too ("... disease NOS" of I13.10 is not stated beside heart
    failure)."""
    from cac.coding.index_terms import index_terms

    extra = index_terms().get(record.code, ()) if record.system is System.ICD10CM else ()
    title = requirement(record.title)
    out = [title] if title.need else []
    head, cause = _head_and_cause(record.title)
    for text in (*record.synonyms, *extra):
        req = requirement(text)
        if head and text in record.synonyms:
            said = content_stems(text)
            if said & cause and not said & head:  # "Pseudomonas aeruginosa" under its sepsis
                req = replace(req, need=req.need | head)
        if req.need:
            extra_forbid = tuple(f for f in title.forbid if f not in req.forbid)
            out.append(replace(req, forbid=req.forbid + extra_forbid) if extra_forbid else req)
    return tuple(out)


@lru_cache(maxsize=200_000)
def _head_and_cause(title: str) -> tuple[frozenset[str], frozenset[str]]:
    """A "HEAD due to CAUSE" title's stems ("Sepsis due to Pseudomonas"): an inclusion term
    naming only the cause ("Pseudomonas aeruginosa") is a kind of the head, and needs it too."""
    head, found, cause = title.lower().partition(" due to ")
    if not found:
        return frozenset(), frozenset()
    return content_stems(head), content_stems(cause)


def _read_pairs(name: str, package: str) -> list[tuple[str, str]]:
    text = (resources.files(package) / "data" / name).read_text(encoding="utf-8")
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise SourceError(f"{name}, line {number}: expected 2 tab-separated fields")
        pairs.append((fields[0].strip().lower(), fields[1].strip().lower()))
    return pairs


@cache
def expansions() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Word sequences and what they also say: the abbreviation table and word equivalences."""
    pairs = _read_pairs("abbreviations.tsv", "cac.nlp") + _read_pairs(
        "word_equivalents.tsv", "cac.coding"
    )
    return tuple((tuple(_WORD.findall(a)), tuple(_WORD.findall(b))) for a, b in pairs)


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    stems: frozenset[str]
    negated: frozenset[str]  # stems the sentence says are absent ("no", "without" shortly before)
    pairs: frozenset[tuple[str, str]]  # adjacent (word, number) stems
    # the offsets of each stem's sayings, for evidence spans
    where: dict[str, tuple[tuple[int, int], ...]]
    # the sentence denies that one condition causes another ("not related to", "not due to")
    unlinks: bool = False

    def span(self, stems: Iterable[str]) -> tuple[int, int]:
        """The tightest span holding one saying of each of ``stems`` ("CKD stage 2 in a kidney
        transplant recipient": N18.2 is "CKD stage 2", not "CKD stage 2 in a kidney")."""
        choices = [self.where[s] for s in stems]
        if math.prod(len(c) for c in choices) > _SPAN_CHOICES:
            choices = [c[:1] for c in choices]
        best: tuple[int, int] | None = None
        for pick in itertools.product(*choices):
            found = (min(o[0] for o in pick), max(o[1] for o in pick))
            if best is None or found[1] - found[0] < best[1] - best[0]:
                best = found
        assert best is not None
        return best


class NoteStatements:
    """A note read once into sentences of stems; :meth:`states` then answers per title."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        # "E. coli": a single letter's period ends no sentence (same length, same offsets)
        masked = _INITIAL.sub(r"\1 ", text)
        self.sentences = [self._sentence(m.start(), m.end()) for m in _spans(masked)]
        self.all_stems: frozenset[str] = frozenset().union(*(s.stems for s in self.sentences))

    def _sentence(self, start: int, end: int) -> Sentence:
        words = [
            (m.group(), start + m.start(), start + m.end())
            for m in _WORD.finditer(self.text[start:end].lower())
        ]
        stems: set[str] = set()
        negated: set[str] = set()
        where: dict[str, list[tuple[int, int]]] = {}
        norms = [w for w, _, _ in words]
        denied, unlinks = _denied(norms)
        for i, (word, s, e) in enumerate(words):
            key = stem(word)
            (negated if denied[i] else stems).add(key)
            where.setdefault(key, []).append((s, e))
        found = expansions_in(norms)
        for short, long in found:
            n = len(short)
            for i in range(len(norms) - n + 1):
                if tuple(norms[i : i + n]) == short:
                    span = (words[i][1], words[i + n - 1][2])
                    for word in long:
                        key = stem(word)
                        (negated if denied[i] else stems).add(key)
                        where.setdefault(key, []).append(span)
        keys = [stem(w) for w in norms]
        pairs = {(a, b) for a, b in itertools.pairwise(keys) if _numbered(b)}
        for short, long in found:
            if any(_numbered(w) for w in long):
                n = len(short)
                for i in range(len(norms) - n + 1):
                    if tuple(norms[i : i + n]) == short:
                        expanded = [stem(w) for w in long]
                        if i > 0 and _numbered(expanded[0]):
                            pairs.add((keys[i - 1], expanded[0]))
                        pairs.update(
                            (a, b) for a, b in itertools.pairwise(expanded) if _numbered(b)
                        )
        return Sentence(
            start,
            end,
            frozenset(stems - negated),
            frozenset(negated),
            frozenset(pairs),
            {k: tuple(v) for k, v in where.items()},
            unlinks,
        )

    def compact(self, start: int, end: int, weight: int) -> bool:
        """Whether the words stating a title of ``weight`` stems stand close enough to say
        one thing: at most ``_SLACK`` other words per stated one ("dysphagia, odynophagia,
        tachypnea, mouth opening and cervical" is not "cervical dysphagia")."""
        return len(_WORD.findall(self.lower, start, end)) <= (_SLACK + 1) * max(weight, 1) + 1

    def states(self, requirements: Iterable[TitleRequirement]) -> tuple[int, int, int] | None:
        """The best-stated title among ``requirements`` as (weight, start, end) of the words
        that state it in one sentence, or None when no sentence states any."""
        found = self.best(requirements)
        return (found[0].weight, found[1], found[2]) if found else None

    def best(
        self, requirements: Iterable[TitleRequirement]
    ) -> tuple[TitleRequirement, int, int] | None:
        """Like :meth:`states`, with the requirement that is stated."""
        best: tuple[TitleRequirement, int, int] | None = None
        for req in requirements:
            for start, end in self._stating(req):
                if best is None or req.weight > best[0].weight:
                    best = (req, start, end)
                break
        return best

    def statings(
        self, requirements: Iterable[TitleRequirement]
    ) -> list[tuple[TitleRequirement, int, int]]:
        """Every sentence's statement of one of ``requirements`` (the heaviest per sentence),
        in note order: a title the history states and the assessment states again."""
        per: dict[tuple[int, int], tuple[TitleRequirement, int, int]] = {}
        for req in requirements:
            for start, end in self._stating(req):
                key = next((s.start, s.end) for s in self.sentences if s.start <= start < s.end)
                if key not in per or req.weight > per[key][0].weight:
                    per[key] = (req, start, end)
        return [per[k] for k in sorted(per)]

    def _stating(self, req: TitleRequirement) -> Iterator[tuple[int, int]]:
        """The span stating ``req`` in each sentence that states it, in note order."""
        if req.residual:
            return
        for sentence in self.sentences:
            if not req.need <= sentence.stems or not req.pairs <= sentence.pairs:
                continue
            if any(clause & sentence.stems for clause in req.forbid):
                continue
            if not req.absent <= sentence.negated:
                continue
            if not all(group & sentence.stems for group in req.either):
                continue
            start, end = sentence.span(req.need)
            if self.compact(start, end, req.weight):
                yield start, end

    def mentions(self, stems: frozenset[str]) -> bool:
        """Whether one sentence says all of ``stems`` (not negated)."""
        return any(stems <= s.stems for s in self.sentences)

    def saying(self, stems: frozenset[str]) -> tuple[int, int] | None:
        """The tightest span of the first sentence that says all of ``stems``, if one does."""
        for sentence in self.sentences:
            if stems <= sentence.stems and all(sentence.where.get(x) for x in stems):
                return sentence.span(stems)
        return None


def crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether spans ``a`` and ``b`` overlap without either holding the other: words that
    state one code and borrow another's ("heart failure and end stage" inside "end stage renal
    disease")."""
    overlap = a[0] < b[1] and b[0] < a[1]
    nested = (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1])
    return overlap and not nested


@cache
def _expansions_by_first() -> dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]:
    """The expansions filed under their short form's first word."""
    out: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for short, long in expansions():
        if short:
            out.setdefault(short[0], []).append((short, long))
    return {k: tuple(v) for k, v in out.items()}


def expansions_in(norms: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The expansions whose short form's first word the sentence has, in table order."""
    table = _expansions_by_first()
    found = {e for w in set(norms) for e in table.get(w, ())}
    return [e for e in expansions() if e in found] if found else []


def _unlinking(words: list[str], i: int) -> int | None:
    """Where a phrase denying a cause that starts at word ``i`` ends ("not related to",
    "unrelated to", "not due to"), or None."""
    if words[i] == "not" and tuple(words[i + 1 : i + 3]) in _UNLINKED:
        return i + 2
    if words[i] == "unrelated" and words[i + 1 : i + 2] == ["to"]:
        return i + 1
    return None


def _denied(words: list[str]) -> tuple[list[bool], bool]:
    """Per word: whether a negating word stands at most ``_NEGATION_REACH`` words before it
    (what follows a denied cause counts as negated: "not related to the hypertension"), or a
    finding is denied after it ("polyp or ulcer was not detected", up to ``_BACKWARD_REACH``
    words back, not past "but"); and
    whether the words deny a cause at all."""
    out = []
    last = -100
    unlinks = False
    for i, word in enumerate(words):
        end = _unlinking(words, i)
        if end is not None:
            last, unlinks = end, True
        elif word in _NEGATORS and not (word == "not" and words[i - 1 : i + 2] == _DNR):
            last = i
        out.append(0 < i - last <= _NEGATION_REACH)
    for i in range(1, len(words) - 2):
        if words[i] in _COPULAS and words[i + 1] == "not" and words[i + 2] in _FOUND:
            for j in range(i - 1, max(i - 1 - _BACKWARD_REACH, -1), -1):
                if words[j] in _CLAUSE_WORDS:
                    break
                out[j] = True
    return out, unlinks


def _spans(text: str) -> Iterable[re.Match[str]]:
    return re.finditer(r"[^\n.;!?]+(?:[.;!?](?=\S)[^\n.;!?]*)*", text)
