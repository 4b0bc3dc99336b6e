"""The conventions stage: a note's ranked, cut suggestions in; the list a certified coder would
sign out, with the rule behind every shown code and every code kept back.

Rules, in the order they run (each cites its ICD-10-CM Official Guidelines section):

1. ``billable`` (I.B.2; ICD-10-PCS A.1): only billable, active codes are shown; a node that
   is not is offered as ``needs_specificity`` with its billable codes as ``alternatives``;
2. ``specificity.stated_axes`` (I.A.9.b, I.B.2, :mod:`cac.coding.specificity`): the most
   specific code of a shown code's category that the note states;
3. ``combination.*`` (I.A.15, I.B.9, I.C.4.a, I.C.9.a, I.C.10.a,
   :mod:`cac.coding.combinations`): combination codes and the "with" presumption;
4. ``integral.*`` (I.B.4-I.B.5, :mod:`cac.coding.integral`): signs and symptoms routinely part
   of a shown diagnosis;
5. ``specificity.unspecified_beside_specific`` (I.A.9.b): an unspecified code beside a more
   specific one of its category;
6. ``axis.*`` (:mod:`cac.coding.axes`): one code per exclusive axis;
7. ``excludes1`` (I.A.12.a, :mod:`cac.coding.excludes`): never both codes of an Excludes1 pair;
   the better-supported one stays;
8. ``sequencing.code_first`` (I.A.13): the shown list puts a "code first" condition before the
   code whose note asks for it (E11.22 before N18.30, I13.0 before I50.22).

The list stays ranked by confidence, alternatives included (a code kept back keeps its place
and its calibrated confidence); the shown codes fill the shown places in sequence order.

A rule never deletes: a code it keeps back stays in the list, unshown, with ``suppressed_by``
naming the rule, the section and the displacing code, so a coder restores it with one decision.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from cac.codesets.records import CodeRecord, System, normalize_code
from cac.coding import (
    axes,
    bmi,
    combinations,
    companions,
    excludes,
    gestation,
    injuries,
    integral,
    specificity,
)
from cac.coding.cut import stated_confidence
from cac.coding.evidence import plain_stems, said_stems, used_stems
from cac.coding.notes import TabularNotes
from cac.coding.records import Evidence, RuleCitation, Suggestion, Suppression
from cac.coding.rules import any_match
from cac.coding.statements import NoteStatements, TitleRequirement, record_requirements
from cac.kb.store import KnowledgeBase

_log = logging.getLogger(__name__)

BILLABLE_RULE = "billable"
BILLABLE_SECTION = {System.ICD10PCS: "PCS.A.1"}
DEFAULT_BILLABLE_SECTION = "I.B.2"
SEQUENCING_RULE = "sequencing.code_first"
DENIED_RULE = "assertion.denied"
# a code is read as the less exact reading of another's words unless the ranker is this much
# surer of it than of the other
_SURER = 0.05
SEQUENCING_SECTION = "I.A.13"
ALTERNATIVES = 20
BMI_RULE = "specificity.bmi_value"
BMI_SECTION = "I.B.14"
GESTATION_RULE = "specificity.weeks_of_gestation"
GESTATION_SECTION = "I.C.21.c.11"
DOMINANCE_RULE = "specificity.dominant_side"
DOMINANCE_SECTION = "I.C.6.a"
# "right-handed", "left hand dominant", "ambidextrous": which side is the patient's dominant one
_HANDED = re.compile(
    r"\b(right|left)(?:[- ]handed|[- ]hand[- ]dominant)\b|\b(ambidextrous)\b", re.IGNORECASE
)
_SIDED = re.compile(r"\b(left|right) (dominant|nondominant)\b")
FOLLOW_UP_RULE = "follow_up.after_cancer_treatment"
FOLLOW_UP_SECTION = "I.C.21.c.8"
# "here for surveillance colonoscopy", "surveillance imaging": a follow-up examination
_SURVEILLANCE = re.compile(r"\bsurveillance(?:\s+(?!of\b|for\b)[a-z]+)?", re.IGNORECASE)
_NOT_BEFORE = re.compile(r"\b(?:no|not|declines|defer(?:s|red)?)\W+(?:\w+\W+){0,2}$", re.IGNORECASE)
INJURY_RULE = "specificity.stated_injury"
SUPERFICIAL_RULE = "injury.superficial_with_severe"
SUPERFICIAL_SECTION = "I.C.19.b.1"
EXTERNAL_CAUSE_RULE = "external_cause.stated"
_MEMO = 50_000  # knowledge-base records memoised per process (a bounded, cleared dict)
# Rules whose codes a coder would keep over a plain ranked code of the same axis.
_MADE = ("specificity.", "combination.")


@dataclass
class _Entry:
    """One suggestion while the rules run (mutable here, frozen again on the way out)."""

    suggestion: Suggestion
    record: CodeRecord
    shown: bool
    confidence: float
    evidence: tuple[Evidence, ...]
    rationale: list[RuleCitation] = field(default_factory=list)
    suppressed: Suppression | None = None
    alternatives: tuple[str, ...] = ()
    needs_specificity: bool = False
    stated: bool = False  # the note states its title (or an inclusion term) in one sentence
    # the stems of the title the note states, and the span that states it
    stated_need: frozenset[str] = frozenset()
    stated_span: tuple[int, int] | None = None
    weight: int = 0  # how many title words it states (more: more specific)

    @property
    def code(self) -> str:
        return self.record.code

    @property
    def made(self) -> bool:
        return any(r.rule.startswith(_MADE) for r in self.rationale)

    def freeze(self) -> Suggestion:
        s = self.suggestion
        rationale = tuple(self.rationale) if self.shown else ()
        if (
            s.code == self.record.display
            and s.confidence == self.confidence
            and s.evidence is self.evidence
            and s.shown == self.shown
            and s.rationale == rationale
            and s.suppressed_by is self.suppressed
            and s.alternatives == self.alternatives
            and s.needs_specificity == self.needs_specificity
            and s.description == self.record.title
        ):
            return s  # untouched by the rules (most of the ranked tail)
        return replace(
            self.suggestion,
            code=self.record.display,
            description=self.record.title,
            confidence=self.confidence,
            evidence=self.evidence,
            shown=self.shown,
            rationale=rationale,
            suppressed_by=self.suppressed,
            alternatives=self.alternatives,
            needs_specificity=self.needs_specificity,
        )


class Conventions:
    """Loads the rule tables once (failing loudly on a bad row) and applies them per note."""

    def __init__(self, kb: KnowledgeBase, stated: float | None = None) -> None:
        self.kb = kb
        self._records: dict[tuple[System, str], CodeRecord | None] = {}
        self._descendants: dict[tuple[System, str], tuple[str, ...]] = {}
        self.notes = TabularNotes(kb)
        self.excludes = excludes.Excludes1(self.notes)
        self.specificity = specificity.Specificity(kb)
        self.combinations: tuple[combinations.Combination, ...] = combinations.combinations()
        self.integral = integral.integral_rules()
        self.axes = axes.axes()
        self.injuries = injuries.Injuries(kb)
        # a code the words state, made here, is as likely right as a stated title in a short
        # note (the coder's measured value, models/stated_precision.json)
        self.stated_confidence = stated if stated is not None else stated_confidence()
        if System.ICD10CM in kb.systems:
            self._check_targets()

    def _check_targets(self) -> None:
        """A fixed combination code this knowledge base lacks (a smaller code set, another
        year) turns its rule off for this knowledge base, with a warning naming rule and code."""
        kept = []
        for rule in self.combinations:
            fixed = "{" not in rule.code
            record = self.kb.get(System.ICD10CM, rule.code) if fixed else None
            if fixed and (record is None or not record.billable or not record.active):
                _log.warning(
                    "combinations.tsv rule %s is off: %s is not a billable code here",
                    rule.id,
                    rule.code,
                )
                continue
            kept.append(rule)
        self.combinations = tuple(kept)

    def apply(self, suggestions: list[Suggestion], text: str) -> list[Suggestion]:
        """The rules over one note's suggestions (ranked, with ``shown`` set by the cut)."""
        slate = _Slate([e for s in suggestions if (e := self._entry(s)) is not None])
        note = NoteStatements(text)
        self._billable(slate)
        if System.ICD10CM in self.kb.systems:
            self._injuries(slate, note)
        cm = [e for e in slate.shown() if e.record.system is System.ICD10CM]
        if cm:
            self._specificity(slate, note)
            self._bmi(slate, note.text)
            self._gestation(slate, note.text)
            self._dominance(slate, note.text)
            self._follow_up(slate, note.text)
            for e in slate.shown(System.ICD10CM):
                self._read(e, note)
            self._unstated(slate, note)
            self._unsupported(slate, note)
            self._denied(slate, note)
            self._axes(slate)  # the stated stage before "with" picks I12.0 or I12.9
            self._combinations(slate, note)
            self._integral(slate)
            self._companions(slate)
            self._unspecified(slate)
            self._subsumed(slate, note.text)
            self._axes(slate)
            self._excluded_by_words(slate, note)
            self._excludes(slate)
        return slate.ordered(self._sequence)

    def _record(self, system: System, code: str) -> CodeRecord | None:
        """The knowledge base's record, from a bounded per-process memo (a note's few hundred
        candidates repeat across notes)."""
        key = (system, code)
        if key not in self._records:
            if len(self._records) >= _MEMO:
                self._records.clear()
            self._records[key] = self.kb.get(system, code)
        return self._records[key]

    def _below(self, system: System, code: str) -> tuple[str, ...]:
        key = (system, code)
        if key not in self._descendants:
            if len(self._descendants) >= _MEMO:
                self._descendants.clear()
            below = self.kb.billable_descendants(system, code, ALTERNATIVES)
            self._descendants[key] = tuple(r.display for r in below)
        return self._descendants[key]

    def _entry(self, s: Suggestion) -> _Entry | None:
        record = self._record(s.system, s.code)
        if record is None:
            return None
        return _Entry(
            s,
            record,
            s.shown,
            s.confidence,
            s.evidence,
            list(s.rationale),
            s.suppressed_by,
            s.alternatives,
            s.needs_specificity,
        )

    @staticmethod
    def _read(e: _Entry, note: NoteStatements) -> None:
        """Whether and where the note states ``e``'s title (or an inclusion or index term)."""
        found = note.best(record_requirements(e.record))
        if found is None:
            return
        req, start, end = found
        e.stated = True
        e.weight = max(e.weight, req.weight)
        if req.weight >= len(e.stated_need):
            e.stated_need, e.stated_span = req.need, (start, end)

    # 1. billable and active
    def _billable(self, slate: _Slate) -> None:
        for e in slate.entries:
            if e.record.billable and e.record.active:
                continue
            e.needs_specificity = True
            if not e.alternatives:
                e.alternatives = self._below(e.record.system, e.code)
            if e.shown:
                section = BILLABLE_SECTION.get(e.record.system, DEFAULT_BILLABLE_SECTION)
                what = "not active" if not e.record.active else "not billable"
                slate.suppress(
                    e,
                    Suppression(
                        BILLABLE_RULE,
                        section,
                        None,
                        f"{e.record.display} is {what}; choose a code below it",
                    ),
                )

    def _adult_bmi_codes(self) -> list[CodeRecord]:
        """The knowledge base's adult BMI codes (Z68.1-Z68.45)."""
        codes = ["Z681", *(f"Z68{n}" for n in range(20, 40)), *(f"Z684{n}" for n in range(1, 6))]
        return [r for c in codes if (r := self._record(System.ICD10CM, c)) is not None]

    def _bmi(self, slate: _Slate, text: str) -> None:
        """A shown adult BMI code whose range does not hold the BMI the note writes gives way to
        the code that does, with the words that state the value as evidence (I.B.14)."""
        shown = [e for e in slate.shown(System.ICD10CM) if bmi.adult_range(e.record)]
        if not shown:
            return
        records = self._adult_bmi_codes()
        held = [(v, r) for v in bmi.stated(text) if (r := bmi.holding(v.value, records))]
        if len({r.code for _, r in held}) != 1:  # no value, or several over time: pick stands
            return
        record = held[0][1]
        said = [v for v, _ in held]
        for e in shown:
            if e.code == record.code:
                continue
            why = f"the note states BMI {said[0].value:g}"
            evidence = tuple(
                Evidence(v.start, v.end, text[v.start : v.end], "mention") for v in said
            )
            slate.show(record, e, e.confidence, evidence, RuleCitation(BMI_RULE, BMI_SECTION, why))
            slate.suppress(
                e,
                Suppression(BMI_RULE, BMI_SECTION, record.display, f"{why}, not {e.record.title}"),
            )

    def _gestation(self, slate: _Slate, text: str) -> None:
        """Beside a shown pregnancy code (O09-O9A), the Z3A code of the one gestational age
        the note writes, with those words as evidence (I.C.21.c.11)."""
        pregnant = [e for e in slate.shown(System.ICD10CM) if "O09" <= e.code[:3] <= "O9A"]
        if not pregnant or any(e.code.startswith("Z3A") for e in slate.shown(System.ICD10CM)):
            return
        said = gestation.stated(text)
        codes = {gestation.z3a_code(w.weeks) for w in said}
        if len(codes) != 1 or None in codes:
            return
        record = self._record(System.ICD10CM, codes.pop() or "")
        if record is None or not record.billable or not record.active:
            return
        evidence = tuple(Evidence(w.start, w.end, text[w.start : w.end], "mention") for w in said)
        why = f"the note states {said[0].weeks} weeks of gestation"
        slate.add(
            record,
            pregnant[0].confidence,
            evidence,
            RuleCitation(GESTATION_RULE, GESTATION_SECTION, why),
        )

    def _follow_up(self, slate: _Slate, text: str) -> None:
        """A shown personal history of cancer (Z85.-) in a note that says the visit is
        surveillance: the follow-up examination after completed treatment, Z08, is coded
        first with the history code beside it (I.C.21.c.8)."""
        history = [e for e in slate.shown(System.ICD10CM) if e.code.startswith("Z85")]
        if not history:
            return
        said = [
            m
            for m in _SURVEILLANCE.finditer(text)
            if not _NOT_BEFORE.search(text[max(0, m.start() - 30) : m.start()])
        ]
        record = self._record(System.ICD10CM, "Z08")
        if not said or record is None or not record.billable or not record.active:
            return
        evidence = tuple(Evidence(m.start(), m.end(), m.group(0), "mention") for m in said)
        why = RuleCitation(
            FOLLOW_UP_RULE,
            FOLLOW_UP_SECTION,
            f"surveillance after treatment of the cancer {history[0].record.display} records",
        )
        slate.add(record, history[0].confidence, evidence, why)

    def _dominance(self, slate: _Slate, text: str) -> None:
        """A shown hemiplegia or monoplegia code's dominant or nondominant side follows the
        handedness the note states ("right-handed" with left hemiparesis: nondominant), with
        those words as evidence; without one the defaults stand (I.C.6.a)."""
        hands = list(_HANDED.finditer(text))
        sides = {(m.group(1) or m.group(2)).lower() for m in hands}
        if len(sides) != 1:
            return
        handed = sides.pop()
        for e in slate.shown(System.ICD10CM):
            title = e.record.title.lower()
            m = _SIDED.search(title)
            if m is None:
                continue
            affected = m.group(1)
            dominant = handed in (affected, "ambidextrous")
            want = f"{affected} {'dominant' if dominant else 'nondominant'}"
            evidence = tuple(
                Evidence(h.start(), h.end(), text[h.start() : h.end()], "mention") for h in hands
            )
            why = RuleCitation(
                DOMINANCE_RULE, DOMINANCE_SECTION, f"the note states {handed}-handed"
            )
            if m.group(0) == want:
                e.evidence = tuple(dict.fromkeys(e.evidence + evidence))
                continue
            target = title[: m.start()] + want + title[m.end() :]
            record = next(
                (
                    r
                    for r in self.kb.children(System.ICD10CM, e.record.parent or "")
                    if r.title.lower() == target and r.billable and r.active
                ),
                None,
            )
            if record is None:
                continue
            made = slate.show(record, e, e.confidence, e.evidence + evidence, why)
            slate.suppress(
                e, Suppression(DOMINANCE_RULE, DOMINANCE_SECTION, made.record.display, why.detail)
            )

    def _injuries(self, slate: _Slate, note: NoteStatements) -> None:
        """The injuries the note states, each with its 7th character, and their external
        causes (I.C.19.a, I.C.19.c.1, I.C.20.a; :mod:`cac.coding.injuries`), shown with the
        words that state them."""
        stated = self.injuries.stated(note)
        for found in stated:
            external = found.record.code[0] not in "ST"
            rule = EXTERNAL_CAUSE_RULE if external else INJURY_RULE
            section = injuries.EXTERNAL_SECTION if external else injuries.INJURY_SECTION
            evidence = tuple(
                Evidence(start, end, note.text[start:end], "mention") for start, end in found.spans
            )
            made = slate.add(
                found.record,
                self.stated_confidence,
                evidence,
                RuleCitation(rule, section, found.detail),
            )
            severe = next(
                (o for o in stated if injuries.more_severe_same_site(o.record, found.record)), None
            )
            if severe is not None:
                slate.suppress(
                    made,
                    Suppression(
                        SUPERFICIAL_RULE,
                        SUPERFICIAL_SECTION,
                        severe.record.display,
                        "a superficial injury is not coded beside a more severe injury of its site",
                    ),
                )

    # 2. specificity from the code set
    def _specificity(self, slate: _Slate, note: NoteStatements) -> None:
        categories = sorted(
            {
                e.code[:3]
                for e in slate.entries
                if e.record.system is System.ICD10CM and e.evidence and e.code[:1] != "Z"
            }
        )
        shown = slate.shown(System.ICD10CM)
        memo: dict[str, list[tuple[CodeRecord, list[TitleRequirement]]]] = {}
        for e in shown:
            self._read(e, note)
        for e in shown:
            taken = [
                o.stated_span
                for o in shown
                if o is not e and o.stated_span is not None and o.code[:3] != e.code[:3]
            ]
            found = self.specificity.refine(e.record, note, categories, taken, memo)
            if found is None:
                continue
            record, (start, end) = found
            rule = RuleCitation(
                specificity.REFINE_RULE,
                specificity.SECTION,
                f"the note states the axes of {record.display}, "
                f"more specific than {e.record.display}",
            )
            evidence = (Evidence(start, end, note.text[start:end]),)
            kept = slate.show(record, e, e.confidence, evidence, rule)
            self._read(kept, note)
            kept.stated = True
            own_words = e.stated_span is not None and not (
                start <= e.stated_span[0] and e.stated_span[1] <= end
            )
            if record.code[:3] != e.code[:3] and (
                self._paired(kept, e) or (own_words and self._coded_also(kept, e))
            ):
                # another category's code that asks for this one too (I11.0 with I50.9)
                e.rationale.append(
                    RuleCitation(
                        "pairing.use_additional",
                        SEQUENCING_SECTION,
                        f"kept beside {record.display}: the tabular notes pair them "
                        "(code first, use additional or code also)",
                    )
                )
                continue
            slate.suppress(
                e,
                Suppression(rule.rule, rule.section, kept.record.display, rule.detail),
            )

    # 2b. a code more specific than the note, where a code of its category is stated
    def _unstated(self, slate: _Slate, note: NoteStatements) -> None:
        """A shown code whose title says more than the note ("Acute cough" for "cough") gives
        way to the most specific code of its category that the note does state (I.A.9.b: code
        to the specificity documented, no further). A residual code ("Other specified cough")
        is never stated by its words, so it gives way to the stated code it sits beside."""
        for e in slate.shown(System.ICD10CM):
            if e.stated or e.made or not e.evidence or e.code[:1] == "Z":
                continue
            rival = next(
                (o for o in slate.shown(System.ICD10CM) if o.stated and o.code[:3] == e.code[:3]),
                None,
            )
            if rival is not None:  # a stated code of its category is shown: N18.4 over N18.5
                slate.suppress(
                    e,
                    Suppression(
                        specificity.UNSTATED_RULE,
                        specificity.SECTION,
                        rival.record.display,
                        f"the note states {rival.record.display}, not {e.record.display}",
                    ),
                )
                continue
            own = record_requirements(e.record)
            best: tuple[int, CodeRecord, tuple[int, int]] | None = None
            for other, requirements in self.specificity.category(e.code):
                if other.code == e.code:
                    continue
                less = [
                    r
                    for r in requirements
                    if any(r.need < o.need or (o.residual and r.need <= o.need) for o in own)
                ]
                found = note.best(less) if less else None
                if found is None:
                    continue
                req, start, end = found
                if best is None or req.weight > best[0]:
                    best = (req.weight, other, (start, end))
            if best is None:
                self._stated_by_its_words(slate, e, note)
                continue
            _, record, (start, end) = best
            rule = RuleCitation(
                specificity.UNSTATED_RULE,
                specificity.SECTION,
                f"the note states {record.display}, not the axes {e.record.display} adds",
            )
            self._give_way(slate, e, record, (start, end), rule, note)

    def _give_way(
        self,
        slate: _Slate,
        e: _Entry,
        record: CodeRecord,
        words: tuple[int, int],
        rule: RuleCitation,
        note: NoteStatements,
    ) -> None:
        """Show ``record`` in ``e``'s place, its evidence the ``words`` that state it, and keep
        ``e`` back under the same rule."""
        start, end = words
        kept = slate.show(
            record, e, e.confidence, (Evidence(start, end, note.text[start:end]),), rule
        )
        self._read(kept, note)
        slate.suppress(e, Suppression(rule.rule, rule.section, record.display, rule.detail))

    def _stated_by_its_words(self, slate: _Slate, e: _Entry, note: NoteStatements) -> None:
        """An unstated shown code whose evidence words, all of them, state another category's
        candidate ("renal insufficiency", indexed to N28.9, shown as N17.9 *Acute kidney
        failure*) gives way to that candidate: the index term the words are is coded (I.B.1)."""
        spans = [(x.start, x.end) for x in e.evidence]
        best: tuple[int, _Entry, tuple[int, int]] | None = None
        for o in slate.entries:
            if (
                o.shown
                or o.suppressed is not None
                or o.record.system is not System.ICD10CM
                or not o.record.billable
                or o.code[:3] == e.code[:3]
                or not any(a < x.end and x.start < b for x in o.evidence for a, b in spans)
            ):
                continue
            for req, start, end in note.statings(record_requirements(o.record)):
                # the stating is the whole of an evidence span, generic words aside, and says
                # all the span says: "carcinoma" of "renal cell carcinoma" states C80.1 but is
                # not what C64.9 was shown for, nor "HIV" (human immunodeficiency virus) D84.9
                whole = any(
                    a <= start
                    and end <= b
                    and not said_stems(f"{note.text[a:start]} {note.text[end:b]}")
                    and plain_stems(note.text[a:b]) <= req.need
                    for a, b in spans
                )
                if whole and (best is None or req.weight > best[0]):
                    best = (req.weight, o, (start, end))
        if best is None:
            return
        _, o, (start, end) = best
        rule = RuleCitation(
            specificity.UNSTATED_RULE,
            "I.B.1",
            f"the words shown as {e.record.display}'s evidence state {o.record.display}",
        )
        self._give_way(slate, e, o.record, (start, end), rule, note)

    # 3. combination codes and the "with" presumption
    def _combinations(self, slate: _Slate, note: NoteStatements) -> None:
        unlinked = [(s.start, s.end) for s in note.sentences if s.unlinks]
        for rule in self.combinations:
            shown = slate.shown(System.ICD10CM)
            codes = [e.code for e in shown]
            filled = combinations.fill(rule, codes, note.mentions)
            if filled is None:
                continue
            target = rule.target(filled[0])
            record = self.kb.get(System.ICD10CM, target)
            if record is None or not record.billable or not record.active:
                continue
            parts = [slate.get(System.ICD10CM, c) for c in filled]
            components = [p for p in parts if p is not None]
            if not components or any(p.code == target for p in components):
                continue
            if _documented_apart(components, unlinked):
                continue  # "CKD, not due to the hypertension": no presumed link (I.A.15)
            citation = RuleCitation(f"combination.{rule.id}", rule.section, rule.detail)
            confidence = min(p.confidence for p in components)
            # a row with words of its own (Z79.4: "insulin") is stated by them; the others by
            # every component they join
            said = [note.saying(w.words) for w in rule.slots if w.words and not w.absent]
            evidence = tuple(
                Evidence(a, b, note.text[a:b], "combination") for a, b in filter(None, said)
            ) or tuple(
                Evidence(v.start, v.end, v.text, "combination")
                for p in components
                for v in p.evidence
            )
            made = slate.show(record, components[0], confidence, evidence, citation)
            for p in components:
                if any_match(rule.displaces, p.code) and p is not made:
                    slate.suppress(
                        p,
                        Suppression(citation.rule, rule.section, made.record.display, rule.detail),
                    )
                elif p.shown:
                    p.rationale.append(
                        RuleCitation(
                            citation.rule,
                            rule.section,
                            f"kept beside {made.record.display} (use additional code)",
                        )
                    )

    # 4. integral signs and symptoms
    def _integral(self, slate: _Slate) -> None:
        shown = slate.shown(System.ICD10CM)
        codes = [e.code for e in shown]
        for e in shown:
            found = integral.explained_by(e.code, [c for c in codes if c != e.code])
            if found is None:
                continue
            rule, diagnosis = found
            by = slate.get(System.ICD10CM, diagnosis)
            slate.suppress(
                e,
                Suppression(
                    f"integral.{rule.id}",
                    rule.section,
                    by.record.display if by else None,
                    rule.detail,
                ),
            )
            codes.remove(e.code)

    # 4b. codes shown only beside a companion
    def _companions(self, slate: _Slate) -> None:
        shown = slate.shown(System.ICD10CM)
        codes = [e.code for e in shown]
        for e in shown:
            rule = companions.unaccompanied(e.code, codes)
            if rule is None:
                continue
            slate.suppress(e, Suppression(f"companion.{rule.id}", rule.section, None, rule.detail))
            codes.remove(e.code)

    # 5. unspecified beside specific
    def _unspecified(self, slate: _Slate) -> None:
        """An unspecified code beside a more specific one of its category gives way to it,
        unless the note states no more of the specific one than of the unspecified one
        ("hemorrhoids" states K64.9 and, through its inclusion term "hemorrhoids without
        prolapse", K64.0 *First degree*): then the specific one gives way (I.A.9.b)."""
        shown = slate.shown(System.ICD10CM)
        for unspecified, specific in specificity.unspecified_beside_specific(
            [e.record for e in shown]
        ):
            e = slate.get(System.ICD10CM, unspecified.code)
            more = slate.get(System.ICD10CM, specific.code)
            if (
                e is not None
                and more is not None
                and e.shown
                and more.shown
                and e.stated
                and more.stated
                and more.stated_need <= e.stated_need
            ):
                slate.suppress(
                    more,
                    Suppression(
                        specificity.UNSTATED_RULE,
                        "I.A.9.b",
                        unspecified.display,
                        f"the note states {unspecified.display}, not what {specific.display} adds",
                    ),
                )
                continue
            if e is not None and e.shown:
                slate.suppress(
                    e,
                    Suppression(
                        specificity.UNSPECIFIED_RULE,
                        "I.A.9.b",
                        specific.display,
                        f"{specific.display} says more than {unspecified.display}",
                    ),
                )

    # 5b. a code whose stated words another shown code states with more
    def _subsumed(self, slate: _Slate, text: str) -> None:
        """A shown code stated by words that a more specific shown code states with more (K37
        "appendicitis" inside K35.80 "acute appendicitis"; R52 "pain" inside R10.31) is kept
        back, unless the two are a code-first / use-additional pair (E11.22 with N18.9)."""
        shown = [e for e in slate.shown(System.ICD10CM) if e.stated_span is not None]
        for e in shown:
            assert e.stated_span is not None
            for other in shown:
                span = other.stated_span
                if other is e or not other.shown or span is None:
                    continue
                if not e.stated_need < other.stated_need:
                    continue
                if not (span[0] <= e.stated_span[0] and e.stated_span[1] <= span[1]):
                    continue
                if self._paired(e, other):
                    continue
                _subsume(
                    slate,
                    e,
                    other,
                    f"{other.record.display} states all that {e.record.display} does, and more",
                )
                break
        self._read_less_exactly(slate, shown, text)

    def _read_less_exactly(self, slate: _Slate, stated: list[_Entry], text: str) -> None:
        """A code whose title the note does not state, all of whose evidence is words that
        state another shown code (inside its span, words of its title): the same words read
        less exactly (B99.9 "infection" and J98.8 "respiratory infection" inside J06.9's
        "acute upper respiratory infection"; "injury" in "pressure injury", which says L89's
        "pressure ulcer"; "Pseudomonas aeruginosa" says more than J95.851)."""
        words = {
            id(o): used_stems(text[o.stated_span[0] : o.stated_span[1]], o.stated_need)
            for o in stated
            if o.stated_span is not None
        }
        for e in slate.shown(System.ICD10CM):
            if e.stated_span is not None or not e.evidence:
                continue
            for other in stated:
                span = other.stated_span
                if other is e or not other.shown or span is None:
                    continue
                if other.confidence + _SURER < e.confidence:  # the ranker reads them as e's
                    continue
                if not all(
                    span[0] <= ev.start
                    and ev.end <= span[1]
                    and said_stems(ev.text) <= words[id(other)]
                    for ev in e.evidence
                ):
                    continue
                if self._paired(e, other):
                    continue
                _subsume(
                    slate, e, other, f"its words state {other.record.display}, which says more"
                )
                break

    # 6. one code per exclusive axis
    def _axes(self, slate: _Slate) -> None:
        for axis in self.axes:
            shown = sorted(
                slate.shown(System.ICD10CM),
                key=lambda e, axis=axis: (axis.rank(e.code), _preference(e)),  # type: ignore[misc]
            )
            kept: list[_Entry] = []
            for e in shown:
                rival = next((k for k in kept if axis.conflict(k.code, e.code)), None)
                if rival is None:
                    if axis.key(e.code) is not None:
                        kept.append(e)
                    continue
                slate.suppress(
                    e,
                    Suppression(
                        f"axis.{axis.id}",
                        axis.section,
                        rival.record.display,
                        f"{axis.detail}: {rival.record.display} is shown",
                    ),
                )

    # 7. Excludes1
    def _excluded_by_words(self, slate: _Slate, note: NoteStatements) -> None:
        """A shown code whose evidence words state a condition its own Excludes1 note sends
        elsewhere is kept back (I.A.12.a: "gestational diabetes" is no E11.9)."""
        for e in slate.shown(System.ICD10CM):
            if not e.evidence:
                continue
            term = self.excludes.stated_at(e.record, note, [(v.start, v.end) for v in e.evidence])
            if term is not None:
                slate.suppress(
                    e,
                    Suppression(
                        excludes.STATED_RULE,
                        excludes.SECTION,
                        None,
                        f"the note states {term}, which an Excludes1 note of "
                        f"{e.record.display} codes elsewhere",
                    ),
                )

    def _excludes(self, slate: _Slate) -> None:
        shown = sorted(slate.shown(System.ICD10CM), key=_specific_first)
        kept: list[_Entry] = []
        for e in shown:
            rival = next((k for k in kept if self.excludes.excluded(k.code, e.code)), None)
            if rival is None:
                kept.append(e)
                continue
            slate.suppress(
                e,
                Suppression(
                    excludes.RULE,
                    excludes.SECTION,
                    rival.record.display,
                    f"an Excludes1 note pairs {e.record.display} with {rival.record.display}, "
                    "which is better supported",
                ),
            )

    # 8. sequencing
    def _sequence(self, shown: list[_Entry]) -> list[_Entry]:
        """Shown codes by confidence, then each "code first" condition moved before the code
        whose note (or whose "use additional code" partner's) asks for it."""
        order = sorted(shown, key=lambda e: -e.confidence)
        for _ in range(len(order)):
            moved = False
            for i, later in enumerate(order):
                for j in range(i):
                    earlier = order[j]
                    if self._first(later, earlier):
                        order.insert(j, order.pop(i))
                        later.rationale.append(
                            RuleCitation(
                                SEQUENCING_RULE,
                                SEQUENCING_SECTION,
                                f"sequenced before {earlier.record.display}, whose note says "
                                "code first",
                            )
                        )
                        moved = True
                        break
                if moved:
                    break
            if not moved:
                break
        return order

    def _paired(self, a: _Entry, b: _Entry) -> bool:
        """Whether the tabular notes pair ``a`` and ``b`` (code first / use additional)."""
        return self._first(a, b) or self._first(b, a)

    def _coded_also(self, a: _Entry, b: _Entry) -> bool:
        """Whether a "code also" note of ``a`` or ``b`` names the other (I16.0 "code also any
        identified hypertensive disease" keeps I10 beside it)."""
        return self._names(a, "code_also", b) or self._names(b, "code_also", a)

    # a combination code the note gives no ground for
    def _unsupported(self, slate: _Slate, note: NoteStatements) -> None:
        """A shown combination code (a target of ``combinations.tsv``) that the note does not
        state and whose conditions no candidate supports is kept back (I.B.9: a combination
        code only when it identifies the conditions documented)."""
        # codes the cut showed (some since kept back): the note's likely conditions
        supported = [e.code for e in slate.entries if e.shown or e.suppressed]
        for e in slate.shown(System.ICD10CM):
            rules = [r for r in self.combinations if r.makes(e.code)]
            if not rules or e.made or e.stated:
                continue
            if any(combinations.fill(r, supported, note.mentions) is not None for r in rules):
                continue
            rule = rules[0]
            slate.suppress(
                e,
                Suppression(
                    "combination.conditions_missing",
                    "I.B.9",
                    None,
                    f"{e.record.display} combines conditions the note does not state ({rule.id})",
                ),
            )

    def _denied(self, slate: _Slate, note: NoteStatements) -> None:
        """A shown code the note does not state, every title of which needs a word the note
        only ever denies ("no rejection" for T86.11), is kept back: the documentation says the
        condition is absent (I.A.19)."""
        denied = frozenset().union(*(s.negated for s in note.sentences)) - note.all_stems
        if not denied:
            return
        for e in slate.shown(System.ICD10CM):
            if e.stated or e.made:
                continue
            own = [r for r in record_requirements(e.record) if not r.residual]
            if own and all(r.need & denied for r in own):
                word = sorted(set().union(*(r.need & denied for r in own)))[0]
                slate.suppress(
                    e,
                    Suppression(
                        DENIED_RULE,
                        "I.A.19",
                        None,
                        f"the note denies what {e.record.display} names ({word!r})",
                    ),
                )

    def _first(self, a: _Entry, b: _Entry) -> bool:
        """Whether ``a`` is to be sequenced before ``b`` (b says "code first" a, or a says
        "use additional code" b)."""
        return self._names(b, "code_first", a) or self._names(a, "use_additional", b)

    def _names(self, a: _Entry, field: str, b: _Entry) -> bool:
        """Whether a ``field`` note of ``a`` (or its ancestors) names ``b``, a code of another
        ICD-10-CM category."""
        if a.record.system is not System.ICD10CM or b.record.system is not System.ICD10CM:
            return False
        return a.code[:3] != b.code[:3] and any_match(self.notes.references(a.code, field), b.code)


def _preference(e: _Entry) -> tuple[bool, bool, int, bool, float, str]:
    """Which of two rivals stays: rule-made, then stated by the note (more of its words
    first), then specific, then better supported."""
    return (
        not e.made,
        not e.stated,
        -e.weight,
        specificity.is_unspecified(e.record),
        -e.confidence,
        e.code,
    )


def _specific_first(e: _Entry) -> tuple[bool, bool, bool, int, bool, float, str]:
    """Which of an Excludes1 pair stays: rule-made, then a definitive diagnosis over a
    chapter 18 symptom (R52 names "low back pain (M54.5-)" as excluded), then the specific,
    longer code (N18.30 over N19), then stated, then better supported."""
    return (
        not e.made,
        e.code.startswith("R"),
        specificity.is_unspecified(e.record),
        -len(e.code),
        not e.stated,
        -e.confidence,
        e.code,
    )


def _subsume(slate: _Slate, e: _Entry, other: _Entry, detail: str) -> None:
    """Keep ``e`` back as read by ``other``'s words (``specificity.subsumed``)."""
    slate.suppress(
        e,
        Suppression(specificity.SUBSUMED_RULE, specificity.SECTION, other.record.display, detail),
    )


class _Slate:
    """A note's entries by code, with the moves the rules make."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self._by = {(e.record.system, e.code): e for e in entries}

    def get(self, system: System, code: str) -> _Entry | None:
        return self._by.get((system, normalize_code(code)))

    def shown(self, system: System | None = None) -> list[_Entry]:
        return [
            e for e in self.entries if e.shown and (system is None or e.record.system is system)
        ]

    def suppress(self, e: _Entry, why: Suppression) -> None:
        e.shown = False
        e.suppressed = why

    def show(
        self,
        record: CodeRecord,
        source: _Entry,
        confidence: float,
        evidence: tuple[Evidence, ...],
        why: RuleCitation,
    ) -> _Entry:
        """Show ``record`` (a candidate already, or new), made by rule ``why`` from ``source``."""
        made = replace(source.suggestion, shown=True, rationale=(), suppressed_by=None)
        return self.add(record, confidence, evidence, why, made)

    def add(
        self,
        record: CodeRecord,
        confidence: float,
        evidence: tuple[Evidence, ...],
        why: RuleCitation,
        template: Suggestion | None = None,
    ) -> _Entry:
        """Show ``record`` (a candidate already, or new, from ``template`` or else a fresh
        present suggestion) because rule ``why`` says so."""
        e = self.get(record.system, record.code)
        if e is None:
            made = template or Suggestion(
                system=record.system,
                code=record.display,
                description=record.title,
                confidence=confidence,
                evidence=evidence,
                assertion="present",
                demo=record.demo,
                needs_specificity=False,
                shown=True,
            )
            e = _Entry(made, record, True, confidence, evidence)
            self.entries.append(e)
            self._by[(record.system, record.code)] = e
        else:
            e.confidence = max(e.confidence, confidence)
            e.evidence = tuple(dict.fromkeys(evidence + e.evidence))
        e.shown = True
        e.suppressed = None
        e.alternatives = ()
        e.needs_specificity = False
        if all(r.rule != why.rule for r in e.rationale):
            e.rationale.append(why)
        return e

    def ordered(self, sequence: object) -> list[Suggestion]:
        """Per system: every code by confidence (the ranked list, alternatives included),
        the shown codes taking the shown places in sequence order (code first)."""
        order = {s: i for i, s in enumerate(System)}
        out: list[Suggestion] = []
        for system in sorted({e.record.system for e in self.entries}, key=order.__getitem__):
            ranked = sorted(
                (e for e in self.entries if e.record.system is system),
                key=lambda e: (-e.confidence, not e.shown, e.code),
            )
            shown = [e for e in ranked if e.shown]
            if callable(sequence):
                shown = sequence(shown)
            queue = iter(shown)
            out.extend((next(queue) if e.shown else e).freeze() for e in ranked)
        return out


def _documented_apart(components: list[_Entry], unlinked: list[tuple[int, int]]) -> bool:
    """Whether a sentence that says one condition is "not related to" / "not due to" another
    holds the evidence of a component of the combination."""
    return any(
        start <= v.start and v.end <= end
        for start, end in unlinked
        for p in components
        for v in p.evidence
    )
