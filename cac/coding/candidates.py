"""Candidate assembly: every code a note's matches reach, after the assertion guidelines
(:mod:`cac.coding.guidelines`) and billable resolution, with unshown sibling alternatives and
the codes similar coded notes vote for.

* negated and hypothetical mentions are never coded; a relative's disease becomes its family
  history code; a resolved past condition its history code; a past procedure the status it
  left; an uncertain diagnosis is coded inpatient, not outpatient (Guidelines II.H, III.C, IV.H);
* a non-billable ICD-10-CM node becomes its "unspecified" billable child; ICD-10-PCS partial
  codes stay partial (the conventions stage offers them as ``needs_specificity``);
* a candidate's category proposes its other codes seen in CodiEsp train (at most ``SIBLINGS``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from cac.codesets.records import CodeRecord, System
from cac.coding.guidelines import (
    family_history_code,
    personal_history_code,
    procedure_status_code,
)
from cac.coding.lexicon import LexiconEntry, PhraseMatch
from cac.kb.store import KnowledgeBase
from cac.nlp.context import AssertedSpan
from cac.nlp.tokens import normalize_phrase
from cac.ranking.features import CodeCandidate, Support

Setting = Literal["inpatient", "outpatient"]
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
# Sibling expansion: a candidate's category (first three characters) proposes its other codes
# seen in CodiEsp train (prior > 0), at most SIBLINGS of them, most frequent first.
SIBLINGS = 8
# How several supports of one code combine: "max" or "noisy_or" (max: D MAP 0.393, noisy-OR
# 0.231 on CodiEsp dev; many weak co-occurrence supports must not add up).
AGGREGATION = "max"


# Codes that say a family or past condition or a status themselves: the assertion is their
# meaning, not a reason to move them (Z80-Z84 family history; Z85-Z87 personal history, Z92
# history of treatment, Z95-Z99 status).
_OWN_ASSERTIONS = {
    "family": (("Z80", "Z84"),),
    "historical": (("Z85", "Z87"), ("Z92", "Z92"), ("Z95", "Z99")),
    # an inconclusive HIV test (I.C.1.a.2.e) and a suspected exposure (I.C.21.c.1) are the
    # uncertainty itself
    "possible": (("R75", "R75"), ("Z20", "Z20")),
}


def _states_its_own(code: str, assertion: str) -> bool:
    category = code.replace(".", "").upper()[:3]
    if assertion == "historical" and category in _CONFIRMED_ONLY:
        return True  # a prior HIV-related illness stays B20 (I.C.1.a.2.f)
    return any(a <= category <= b for a, b in _OWN_ASSERTIONS.get(assertion, ()))


# HIV disease (I.C.1.a.1.a) and COVID-19 (I.C.1.g.1.a) are coded only when confirmed,
# inpatient too: the exceptions to the uncertain-diagnosis rule of II.H / III.C.
_CONFIRMED_ONLY = frozenset({"B20", "Z21"})
_CONFIRMED_ONLY_CODES = frozenset({"U071"})


def _healed_not_coded(system: System, code: str) -> bool:
    """A healed pressure ulcer is not coded (I.C.12.a.4)."""
    return system is System.ICD10CM and code.replace(".", "").upper()[:3] == "L89"


def _confirmed_only(system: System, code: str) -> bool:
    normal = code.replace(".", "").upper()
    return system is System.ICD10CM and (
        normal[:3] in _CONFIRMED_ONLY or normal in _CONFIRMED_ONLY_CODES
    )


class CandidateAssembler:
    """Builds a note's candidates; caches per knowledge base (resolutions, category siblings)."""

    def __init__(self, kb: KnowledgeBase, priors: dict[tuple[System, str], float]) -> None:
        self.kb = kb
        self.priors = priors
        self._categories: dict[tuple[System, str], list[str]] | None = None
        # matched node -> code to suggest; the lexicon is fixed, so this only grows to its size
        self._targets: dict[tuple[System, str], tuple[System, str] | None] = {}

    def assemble(
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
            billable = self.billable(system, code)
            span = asserted[(start, end)]
            target = self.code_for(billable, span.assertion, setting) if billable else None
            if target is None:
                continue
            candidate = candidates.get(target)
            if candidate is None:
                candidate = candidates[target] = CodeCandidate(*target)
            candidate.supports.append(Support(entry.precision, entry.source, start, end))
            candidate.weighted.append(entry.precision * SOURCE_WEIGHTS.get(entry.source, 1.0))
            candidate.assertions.add(span.assertion)
            candidate.sections.add(span.section)
        own = set(candidates)  # the codes with evidence of their own, before any sibling
        for (system, code), found in list(candidates.items()):
            for sibling in self.siblings(system, code):
                expansion = candidates.get((system, sibling))
                if expansion is None:
                    expansion = candidates[(system, sibling)] = CodeCandidate(system, sibling)
                elif (system, sibling) in own:
                    continue  # the code has evidence of its own
                heuristic = found.heuristic  # a max over its supports: once, not per support
                for support in found.supports:
                    expansion.supports.append(
                        Support(heuristic, "sibling", support.start, support.end)
                    )
                expansion.weighted.append(0.0)
                expansion.assertions |= found.assertions
                expansion.sections |= found.sections
        return candidates

    def code_for(
        self, target: tuple[System, str], assertion: str, setting: Setting
    ) -> tuple[System, str] | None:
        """The code a mention yields under its assertion, or None when it is not coded."""
        system, code = target
        if assertion in ("negated", "hypothetical"):
            return None
        if system is System.ICD10CM and _states_its_own(code, assertion):
            return target  # "family history of ..." -> Z80.0, "history of ..." -> Z86.718
        if assertion == "possible" and (setting == "outpatient" or _confirmed_only(system, code)):
            return None
        if assertion == "historical" and _healed_not_coded(system, code):
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

    def denied(
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
                self.code_for((e.system, e.code), assertion, setting) == (e.system, e.code)
                for e in m.entries
            ):
                continue  # coded as it stands
            categories.update((e.system, e.code[:3]) for e in m.entries)
            phrases.append(" ".join(normalize_phrase(text[m.start : m.end])))
        return categories, [p for p in phrases if p]

    def add_voted(
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

    def siblings(self, system: System, code: str) -> list[str]:
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

    def billable(self, system: System, code: str) -> tuple[System, str] | None:
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
        return (system, default_child(self.kb, record).code)


def aggregate(scores: list[float], how: str | None = None) -> float:
    """One confidence from the scores of a code's supports (each in [0, 1])."""
    how = how or AGGREGATION
    if how == "max":
        return max(scores, default=0.0)
    miss = 1.0
    for score in scores:
        miss *= 1.0 - min(max(score, 0.0), 1.0)
    return 1.0 - miss


def summary(assertions: set[str]) -> str:
    """One assertion for a code supported by several mentions: ``present`` if any is."""
    for candidate in ("present", "possible", "historical", "family"):
        if candidate in assertions:
            return candidate
    return "present"


def default_child(kb: KnowledgeBase, record: CodeRecord) -> CodeRecord:
    """The billable code a non-specific mention most likely means: an 'unspecified' child,
    else one 'without complication', else the first billable descendant, else the node itself."""
    below = kb.billable_descendants(record.system, record.code, limit=200)
    for marker in ("unspecified", "without complication", "initial encounter"):
        for child in below:
            if marker in child.title.lower():
                return child
    return below[0] if below else record
