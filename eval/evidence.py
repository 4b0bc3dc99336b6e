"""Evidence evaluation (``cac eval evidence``): do shown codes point at the words that state them?

Two measurements, each coding the note text alone and reading the expectations afterwards:

* **MACCROBAT dev slice** (cac's every-5th document, never trained on): every evidence span of
  every shown code against the annotated entities. A span is *on target* when it overlaps an
  entity of the right kind: ``Disease_disorder`` or ``Sign_symptom`` for an ICD-10-CM code, a
  ``Diagnostic_procedure`` or ``Therapeutic_procedure`` for ICD-10-PCS, CPT and HCPCS. Reported:
  the share of spans on target, the share of shown codes with at least one span on target (an
  ``inferred`` code, with no span, has none), and how many shown codes are inferred. Both
  shares are also given by the code's kind (``_by_kind``, :func:`kind_labels`: a family
  history code's words are a ``Family_history`` entity, a BMI code's a ``Lab_value``), and
  counting MACCROBAT's ``History`` and ``Family_history`` entities as any diagnosis code's words:
  the corpus labels a past or a relative's condition so, not ``Disease_disorder``
  (``_with_history``).
* **Hand-written cases** (``eval/evidence/cases.yaml``): for each expected code, the words a coder
  wants highlighted. A word is *found* when the code is shown and one of its evidence spans
  overlaps the word. A shown code *points elsewhere* when one of its spans overlaps words expected
  for a code of its system and another category (:func:`category`) and none expected for its own
  category: the span states another condition. The cases list ICD-10-CM and ICD-10-PCS codes, so
  a CPT or HCPCS code is only ever checked for what it points at within its own system.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; mlflow requires it
from rich.console import Console
from rich.progress import track

from cac.codesets.records import System, normalize_code
from cac.kb.store import KnowledgeBase
from eval.brat import DEFAULT_DIR, BratDoc, dev_slice, read_dir
from eval.guidelines import SETTINGS, CasesError, CodeRef, CoderLike, Setting, parse_code, show_code

DEFAULT_CASES = Path(__file__).parent / "evidence" / "cases.yaml"
_FIELDS = ("id", "setting", "note", "evidence", "why")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")

Offsets = tuple[int, int]


@dataclass(frozen=True)
class Shown:
    """A shown code and its evidence offsets (empty: inferred)."""

    system: System
    code: str
    spans: tuple[Offsets, ...]

    @property
    def category(self) -> tuple[System, str]:
        return category(self.system, self.code)


@dataclass(frozen=True)
class Expected:
    ref: CodeRef
    words: tuple[tuple[str, Offsets], ...]  # each word and where it stands in the note

    @property
    def category(self) -> tuple[System, str]:
        return category(self.ref.system, self.ref.code)


@dataclass(frozen=True)
class EvidenceCase:
    id: str
    setting: Setting
    note: str
    expected: tuple[Expected, ...]
    why: str


def category(system: System, code: str) -> tuple[System, str]:
    """What one condition or procedure is, for "points elsewhere": an ICD-10-CM category (E11),
    an ICD-10-PCS section, body system and body part (0FT44ZZ and 0FB44ZZ: the gallbladder), or
    the code itself in CPT and HCPCS."""
    norm = normalize_code(code)
    if system is System.ICD10CM:
        return system, norm[:3]
    if system is System.ICD10PCS:
        return system, norm[:2] + norm[3:4]
    return system, norm


def _overlaps(a: Offsets, b: Offsets) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def shown_of(result: Any) -> list[Shown]:
    """The shown suggestions of a coding result with their evidence offsets."""
    return [
        Shown(s.system, s.code, tuple((e.start, e.end) for e in s.evidence))
        for s in result.suggestions
        if s.shown
    ]


# ------------------------------------------------------------------------------ cases file
def _parse_case(entry: object, index: int) -> EvidenceCase:
    where = f"case {index + 1}"
    if not isinstance(entry, dict):
        raise CasesError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - set(_FIELDS))
    missing = [f for f in _FIELDS if f not in entry]
    if unknown or missing:
        raise CasesError(f"{where}: unknown keys {unknown}, missing {missing}")
    case_id = entry["id"]
    if not isinstance(case_id, str) or not _ID.match(case_id):
        raise CasesError(f"{where}: id must be a lowercase slug")
    where = f"case {case_id!r}"
    note, setting, why = entry["note"], entry["setting"], entry["why"]
    if not isinstance(note, str) or not note.strip():
        raise CasesError(f"{where}: note must be a non-empty string")
    if setting not in SETTINGS:
        raise CasesError(f"{where}: setting must be one of {', '.join(SETTINGS)}")
    if not isinstance(why, str) or not why.strip():
        raise CasesError(f"{where}: why must be a non-empty string")
    items = entry["evidence"]
    if not isinstance(items, list) or not items:
        raise CasesError(f"{where}: evidence must be a non-empty list")
    expected = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"code", "words"}:
            raise CasesError(f"{where}: each evidence entry has exactly 'code' and 'words'")
        ref = parse_code(item["code"], where)
        if ref.prefix:
            raise CasesError(f"{where}: {ref.text}: evidence needs an exact code, not a prefix")
        words = item["words"]
        if not isinstance(words, list) or not words:
            raise CasesError(f"{where}: {ref.text}: words must be a non-empty list")
        placed = []
        for word in words:
            if not isinstance(word, str) or not word or note.count(word) != 1:
                raise CasesError(
                    f"{where}: {ref.text}: each word must occur exactly once in the note"
                )
            start = note.index(word)
            placed.append((word, (start, start + len(word))))
        expected.append(Expected(ref, tuple(placed)))
    return EvidenceCase(case_id, setting, note, tuple(expected), why.strip())


def load_cases(path: Path = DEFAULT_CASES, kb: KnowledgeBase | None = None) -> list[EvidenceCase]:
    """Read and validate the cases; with ``kb``, every code must be billable there.

    Raises:
        CasesError: on an unreadable or malformed file, duplicate ids, a word that does not occur
            exactly once in its note, or (with ``kb``) an unknown or non-billable code.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CasesError(f"cannot read cases file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError:
        raise CasesError(f"{path} is not valid YAML") from None
    if not isinstance(raw, list) or not raw:
        raise CasesError(f"{path}: expected a non-empty list of cases")
    cases: list[EvidenceCase] = []
    for index, entry in enumerate(raw):
        try:
            case = _parse_case(entry, index)
        except CasesError as exc:
            raise CasesError(f"{path.name}: {exc}") from None
        if any(c.id == case.id for c in cases):
            raise CasesError(f"{path.name}: case {case.id!r}: duplicate id")
        cases.append(case)
    if kb is not None:
        for case in cases:
            for e in case.expected:
                record = kb.get(e.ref.system, e.ref.code)
                if record is None or not record.billable:
                    raise CasesError(
                        f"{path.name}: case {case.id!r}: {e.ref.text} is not a billable code "
                        "in the knowledge base"
                    )
    return cases


# ------------------------------------------------------------------------------ scoring
def score_case(case: EvidenceCase, shown: Sequence[Shown]) -> dict[str, Any]:
    """One case's expected words found and shown codes pointing elsewhere."""
    by_code = {(s.system, normalize_code(s.code)): s for s in shown}
    words: list[dict[str, Any]] = []
    for e in case.expected:
        got = by_code.get((e.ref.system, e.ref.code))
        for word, span in e.words:
            words.append(
                {
                    "code": e.ref.text,
                    "word": word,
                    "code_shown": got is not None,
                    "found": got is not None and any(_overlaps(span, o) for o in got.spans),
                }
            )
    elsewhere: list[dict[str, Any]] = []
    for s in shown:
        same = [e for e in case.expected if e.ref.system is s.system]
        own = [span for e in same if e.category == s.category for _, span in e.words]
        other = {e.ref.text: [x for _, x in e.words] for e in same if e.category != s.category}
        for o in s.spans:
            if any(_overlaps(o, span) for span in own):
                continue
            hit = sorted(c for c, spans in other.items() if any(_overlaps(o, x) for x in spans))
            if hit:
                elsewhere.append(
                    {"code": show_code(s.system, s.code), "span": list(o), "states": hit}
                )
                break
    return {
        "id": case.id,
        "shown": sorted(show_code(s.system, s.code) for s in shown),
        "words": words,
        "elsewhere": elsewhere,
    }


def _tracked(items: Sequence[Any], label: str, progress: bool) -> Iterable[Any]:
    return track(items, label, console=Console(stderr=True), transient=True) if progress else items


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def run_cases(
    coder: CoderLike, cases: Sequence[EvidenceCase], progress: bool = True
) -> dict[str, Any]:
    """Code every case (note and setting only), then score each against its expectations."""
    start = time.perf_counter()
    coded = [
        shown_of(coder.code(c.note, setting=c.setting))
        for c in _tracked(cases, "evidence cases", progress)
    ]
    seconds = time.perf_counter() - start
    # expectations are read only now, after every note has been coded
    results = [score_case(c, s) for c, s in zip(cases, coded, strict=True)]
    words = [w for r in results for w in r["words"]]
    of_shown = [w for w in words if w["code_shown"]]
    shown_codes = sum(len(s) for s in coded)
    elsewhere = [x for r in results for x in r["elsewhere"]]
    return {
        "cases": len(cases),
        "expected_words": len(words),
        "found": sum(w["found"] for w in words),
        "found_share": _share(sum(w["found"] for w in words), len(words)),
        "words_of_shown_codes": len(of_shown),
        "found_of_shown_codes": sum(w["found"] for w in of_shown),
        "found_share_of_shown_codes": _share(sum(w["found"] for w in of_shown), len(of_shown)),
        "shown_codes": shown_codes,
        "pointing_elsewhere": len(elsewhere),
        "pointing_elsewhere_share": _share(len(elsewhere), shown_codes),
        "missed_words": [
            {"id": r["id"], **w} for r in results for w in r["words"] if not w["found"]
        ],
        "elsewhere": [{"id": r["id"], **x} for r in results for x in r["elsewhere"]],
        "seconds_per_case": round(seconds / max(len(cases), 1), 4),
    }


def right_kind(system: System) -> str:
    """The annotated entity kind (cac's brat label) a code's evidence should overlap."""
    return "DIAGNOSIS" if system is System.ICD10CM else "PROCEDURE"


_ROW = 9  # the counts score_doc keeps per system


def kind_labels(system: System, code: str) -> frozenset[str]:
    """The brat labels (cac's mapped ones, and MACCROBAT's own context labels) that state what
    a code is, by the code's kind: a relative's condition (Z80-Z84) is a ``Family_history``
    entity, a personal history (Z85-Z87, Z92) a ``History`` one, a body mass index (Z68) a
    measurement (``Lab_value``, or the ``Diagnostic_procedure`` "BMI"); any other diagnosis code
    a Disease_disorder or Sign_symptom, a procedure code a procedure entity."""
    base = frozenset({right_kind(system)})
    if system is not System.ICD10CM:
        return base
    head = normalize_code(code)[:3]
    if "Z80" <= head <= "Z84":
        return base | {"Family_history"}
    if "Z85" <= head <= "Z87" or head == "Z92":
        return base | {"History"}
    if head == "Z68":
        return base | {"Lab_value", "PROCEDURE"}
    return base


def score_doc(doc: BratDoc, shown: Sequence[Shown]) -> dict[str, list[int]]:
    """Per system: [spans, spans on target, codes, codes with a span on target, inferred,
    then spans and codes on target by the code's kind (:func:`kind_labels`), then spans and
    codes on target or on a History/Family_history entity]. The last two count MACCROBAT's
    labels for a past or a relative's condition as any diagnosis code's words ("20-year history
    of hypertension" is annotated History, not Disease_disorder)."""
    tally: dict[str, list[int]] = {}
    for s in shown:
        gold = [(a, b) for a, b, label in doc.spans if label == right_kind(s.system)]
        on = [any(_overlaps(o, g) for g in gold) for o in s.spans]
        labels = kind_labels(s.system, s.code)
        kinds = [(a, b) for a, b, label in (*doc.spans, *doc.context) if label in labels]
        by_kind = [any(_overlaps(o, g) for g in kinds) for o in s.spans]
        past = [
            (a, b)
            for a, b, label in doc.context
            if s.system is System.ICD10CM and label in ("History", "Family_history")
        ]
        wide = [x or any(_overlaps(o, h) for h in past) for o, x in zip(s.spans, on, strict=True)]
        row = tally.setdefault(s.system.value, [0] * _ROW)
        counts = (
            len(on),
            sum(on),
            1,
            int(any(on)),
            int(not s.spans),
            sum(by_kind),
            int(any(by_kind)),
            sum(wide),
            int(any(wide)),
        )
        for i, v in enumerate(counts):
            row[i] += v
    return tally


def run_maccrobat(
    coder: CoderLike, docs: Sequence[BratDoc], progress: bool = True
) -> dict[str, Any]:
    """Code each document's text, then score the shown codes' evidence against its entities."""
    coded = [shown_of(coder.code(d.text)) for d in _tracked(docs, "evidence, MACCROBAT", progress)]
    totals: dict[str, list[int]] = {}
    most = 0
    for doc, shown in zip(docs, coded, strict=True):
        most = max([most, *(len(s.spans) for s in shown)])
        for system, row in score_doc(doc, shown).items():
            acc = totals.setdefault(system, [0] * _ROW)
            totals[system] = [a + b for a, b in zip(acc, row, strict=True)]
    totals["all"] = [sum(col) for col in zip(*totals.values(), strict=True)] or [0] * _ROW

    def summary(row: list[int]) -> dict[str, Any]:
        spans, on, codes, with_on, inferred, on_kind, with_kind, on_wide, with_wide = row
        return {
            "spans": spans,
            "spans_on_target": on,
            "span_share": _share(on, spans),
            "shown_codes": codes,
            "codes_with_span_on_target": with_on,
            "code_share": _share(with_on, codes),
            "inferred_codes": inferred,
            "span_share_by_kind": _share(on_kind, spans),
            "code_share_by_kind": _share(with_kind, codes),
            "span_share_with_history": _share(on_wide, spans),
            "code_share_with_history": _share(with_wide, codes),
        }

    return {
        "docs": len(docs),
        **{system: summary(row) for system, row in totals.items()},
        "most_spans_per_code": most,
    }


def evaluate(
    coder: CoderLike | None = None,
    cases_path: Path = DEFAULT_CASES,
    brat_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Both measurements with ``coder`` (default ``Coder.load()``)."""
    kb = None
    if coder is None:
        from cac.pipeline import Coder

        real = Coder.load()
        coder, kb = real, real.kb
    kb = kb or getattr(coder, "kb", None)
    cases = load_cases(cases_path, kb)
    docs = dev_slice(read_dir(DEFAULT_DIR)) if brat_dir is None else read_dir(brat_dir)
    return {
        "maccrobat": run_maccrobat(coder, docs, progress),
        "cases": {"cases_file": str(cases_path), **run_cases(coder, cases, progress)},
    }
