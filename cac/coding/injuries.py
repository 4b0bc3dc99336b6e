"""Injuries the note states (ICD-10-CM S00-T14) with their 7th character, and their external
causes (Chapter 20).

The ranker was trained on case reports and rarely ranks an injury code: an injury code is a
nature (laceration, open bite, fracture), a site and a side, then a 7th character for the
encounter, thousands of combinations that co-occurrence cannot learn. The words decide, so this
module reads them:

* an injury is stated when one sentence states the title of an injury code's 6-character base
  (``statements.requirement``: "without foreign body" holds unless the note says one, a fracture
  not called open or nondisplaced is closed and displaced, I.C.19.c.1); the base that states the
  most words wins, so "left hand" beats "unspecified hand";
* the 7th character is the encounter (I.C.19.a): ``A`` while the injury is actively treated,
  ``D`` once the note describes healing or a visit after the injury ("routine healing", "seen 4
  weeks after"), ``S`` for a sequela; a fracture's ``A`` is "closed" unless the note says "open"
  (I.C.19.c.1), its ``D`` "with routine healing" unless it says delayed healing, nonunion or
  malunion;
* an external cause code (``data/external_causes.tsv``, our own words) is added beside a stated
  injury, with the injury's 7th character (I.C.20.a.1-2);
* uncertain injuries ("possible fracture") are not coded; negated words state nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from cac.codesets.records import CodeRecord, System, normalize_code
from cac.coding.statements import NoteStatements, TitleRequirement, requirement, stem
from cac.errors import SourceError
from cac.kb.store import KnowledgeBase

INJURY_SECTION = "I.C.19.a"
EXTERNAL_SECTION = "I.C.20.a"
# Chapter 19's site-by-site injuries; T15-T88 (foreign bodies, burns, poisonings) read otherwise.
_FIRST, _LAST = "S00", "T15"
# The natures a stated injury title starts from: a note without one of them states no injury.
_NATURES = frozenset(
    stem(w)
    for w in re.findall(
        r"\w+",
        "fracture laceration bite contusion abrasion sprain strain puncture dislocation "
        "subluxation avulsion amputation blister",
    )
)
_UNCERTAIN = re.compile(
    r"\b(?:possible|possibly|probable|suspected|suspect|rule out|r/o|likely|questionable|"
    r"concern for|cannot exclude|versus|vs)\b",
    re.IGNORECASE,
)
_SEQUELA = re.compile(r"\b(?:sequela|sequelae|late effects? of)\b", re.IGNORECASE)
_SUBSEQUENT = re.compile(
    r"\b(?:routine healing|delayed healing|nonunion|non-union|malunion|mal-union|healing well|"
    r"healing fracture|(?:weeks?|months?|days?) (?:after|since|status post|s/p) (?:a|an|the|his|"
    r"her)\b|cast check|suture removal|for follow-up of)",
    re.IGNORECASE,
)
_HEALING = (
    ("delayed healing", re.compile(r"\bdelayed healing\b", re.IGNORECASE)),
    ("nonunion", re.compile(r"\bnon-?union\b", re.IGNORECASE)),
    ("malunion", re.compile(r"\bmal-?union\b", re.IGNORECASE)),
)
_OPEN = re.compile(r"\bopen\b", re.IGNORECASE)
_NO_FOREIGN_BODY = re.compile(
    r"\b(?:no|without)\s+(?:\w+\s+)?foreign\s+bod(?:y|ies)\b", re.IGNORECASE
)
_NEGATION_BEFORE = re.compile(r"\b(?:no|denies|denied|without|not)\W+(?:\w+\W+){0,2}$")


@dataclass(frozen=True, slots=True)
class StatedCode:
    """A code the note's words state, with the spans that state it and why."""

    record: CodeRecord
    spans: tuple[tuple[int, int], ...]
    detail: str


@dataclass(frozen=True, slots=True)
class _Base:
    record: CodeRecord
    requirement: TitleRequirement
    fracture: bool
    # 7th character codes by their title's encounter phrase ("initial encounter for closed
    # fracture")
    by_encounter: dict[str, CodeRecord]


@dataclass(frozen=True, slots=True)
class ExternalCause:
    category: str  # the code before its 7th character: "W54.0"
    pattern: re.Pattern[str]
    what: str


class Injuries:
    """The knowledge base's injury codes, read once, and the reader of one note's injuries."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._bases: list[_Base] | None = None
        self.causes = external_causes()

    def bases(self) -> list[_Base]:
        """Every injury base with a 7th character (S61.452 with S61.452A/D/S), loaded once."""
        if self._bases is None:
            expansions: dict[str, dict[str, CodeRecord]] = {}
            records: dict[str, CodeRecord] = {}
            for r in self.kb.range(System.ICD10CM, _FIRST, _LAST):
                records[r.code] = r
                if (
                    r.parent
                    and r.billable
                    and r.active
                    and dict(r.attributes).get("seventh_character")
                ):
                    phrase = r.title.rpartition(", ")[2].lower()
                    expansions.setdefault(r.parent, {})[phrase] = r
            bases = []
            for code, by in expansions.items():
                base = records.get(code)
                if base is None:
                    continue
                req = requirement(base.title)
                if req.residual or not req.need & _NATURES:
                    continue
                bases.append(_Base(base, req, "fracture" in req.need, by))
            self._bases = bases
        return self._bases

    def stated(self, note: NoteStatements) -> list[StatedCode]:
        """The injuries ``note`` states, each its most specific code, then their external
        causes."""
        if not note.all_stems & _NATURES:
            return []
        found: list[tuple[int, _Base, int, int]] = []
        for base in self.bases():
            req = base.requirement
            if not req.need <= note.all_stems:
                continue
            for _, start, end in note.statings([req]):
                if _UNCERTAIN.search(_sentence_before(note, start)):
                    continue
                found.append((req.weight, base, start, end))
        # per span, the base stating most words; a span inside a better one's adds nothing
        found.sort(key=lambda f: (-f[0], f[3] - f[2], f[1].record.code))
        kept: list[tuple[_Base, int, int]] = []
        for _, base, start, end in found:
            if any(s < end and start < e for _, s, e in kept):
                continue
            # "fracture of the right radius" in the history, "Colles' fracture ..." later
            if any(base.requirement.need < b.requirement.need for b, _, _ in kept):
                continue
            kept.append((base, start, end))
        out: dict[str, StatedCode] = {}
        encounter = _encounter(note.text)
        for base, start, end in kept:
            record = self._seventh(base, encounter, note, start, end)
            if record is None:
                continue
            spans = [(start, end)]
            if "without foreign body" in base.record.title.lower():
                spans += [m.span() for m in _NO_FOREIGN_BODY.finditer(note.text)]
            prior = out.get(record.code)
            if prior is not None:
                spans = [*prior.spans, *spans]
            detail = f"the note states {base.record.title.lower()}, {encounter} encounter"
            out[record.code] = StatedCode(record, tuple(dict.fromkeys(spans)), detail)
        injuries = list(out.values())
        if injuries:
            injuries += self._external(note.text, encounter)
        return injuries

    def _seventh(
        self, base: _Base, encounter: str, note: NoteStatements, start: int, end: int
    ) -> CodeRecord | None:
        by = base.by_encounter
        if encounter == "sequela":
            return by.get("sequela")
        if not base.fracture:
            return by.get(f"{encounter} encounter")
        sentence = _sentence_of(note, start, end)
        kind = "open fracture" if _OPEN.search(sentence) else "closed fracture"
        if encounter == "initial":
            opening = [p for p in by if p.startswith(f"initial encounter for {kind}")]
            return by[sorted(opening, key=len)[0]] if opening else None
        healing = next(
            (name for name, pattern in _HEALING if pattern.search(note.text)), "routine healing"
        )
        phrase = [p for p in by if p.startswith("subsequent encounter for " + kind)]
        phrase = [p for p in phrase if p.endswith("with " + healing)]
        return by[sorted(phrase, key=len)[0]] if phrase else None

    def _external(self, text: str, encounter: str) -> list[StatedCode]:
        """The external causes the note states beside an injury, with its 7th character."""
        char = {"initial": "A", "subsequent": "D", "sequela": "S"}[encounter]
        out: list[StatedCode] = []
        for cause in self.causes:
            spans = [
                m.span()
                for m in cause.pattern.finditer(text)
                if not _NEGATION_BEFORE.search(text[max(0, m.start() - 40) : m.start()])
            ]
            if not spans:
                continue
            code = normalize_code(cause.category)
            record = self.kb.get(System.ICD10CM, code.ljust(6, "X") + char)
            if record is None or not record.billable or not record.active:
                continue
            out.append(StatedCode(record, tuple(spans), f"the note states {cause.what}"))
        return out


def superficial(record: CodeRecord) -> bool:
    """A superficial injury (abrasion, contusion, blister: S00, S10, ... S90)."""
    return record.code[0] == "S" and record.code[2] == "0"


def more_severe_same_site(severe: CodeRecord, other: CodeRecord) -> bool:
    """Whether ``severe`` is an injury of ``other``'s body region (the block S80-S89: knee and
    lower leg) and ``other`` only a superficial one (I.C.19.b.1)."""
    return (
        superficial(other)
        and severe.code[0] == "S"
        and not superficial(severe)
        and severe.code[:2] == other.code[:2]
    )


def _encounter(text: str) -> str:
    """``initial``, ``subsequent`` or ``sequela``: the encounter a note's injury words are in."""
    if _SEQUELA.search(text):
        return "sequela"
    if _SUBSEQUENT.search(text):
        return "subsequent"
    return "initial"


def _sentence_of(note: NoteStatements, start: int, end: int) -> str:
    for s in note.sentences:
        if s.start <= start and end <= s.end:
            return note.text[s.start : s.end]
    return note.text[start:end]


def _sentence_before(note: NoteStatements, start: int) -> str:
    """The words of ``start``'s sentence before it (where an uncertainty cue would stand)."""
    for s in note.sentences:
        if s.start <= start <= s.end:
            return note.text[s.start : start]
    return ""


@cache
def external_causes() -> tuple[ExternalCause, ...]:
    """``data/external_causes.tsv``: code before its 7th character, pattern, what it says.

    Raises:
        SourceError: on a row without three fields or with a pattern that does not compile,
            naming the line.
    """
    name = "external_causes.tsv"
    text = (resources.files("cac.coding") / "data" / name).read_text(encoding="utf-8")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise SourceError(f"{name}:{number}: expected 3 tab-separated fields")
        category, pattern, what = (f.strip() for f in fields)
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise SourceError(f"{name}:{number}: bad pattern ({exc})") from None
        out.append(ExternalCause(category, compiled, what))
    return tuple(out)
