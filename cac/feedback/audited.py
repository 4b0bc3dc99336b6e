"""Audited notes read back from decision exports (``cac-decisions/1`` and ``/2``): labels for
retraining.

A coder's review of a note says which codes it should have: every accepted model suggestion, the
final code of every replaced one, and every added code that stands; rejected suggestions (and
the original code of a replaced one) are codes it should not have. Pending suggestions say
nothing. A code the conventions stage kept out of the shown list (``suppressed_by``) that a coder
accepted is a final code like any other, and is also listed as **restored**, with the rule the
coder overrode (version 2 exports say so; version 1 exports restore nothing). Only the last record
per note id counts (a later export repeats a note whose review
went on).

Every audited note falls, by a hash of its external id, either in the **hold-out** (about
``HOLDOUT_SHARE`` of notes; never used to train, only to measure) or in the training part, so
that the same note lands on the same side in every export and every retraining.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from cac.codesets.records import System
from cac.errors import CacError
from cac.exports.decisions import ExportedDecision, NoteRecord
from cac.ranking.features import mention_label

HOLDOUT_SHARE = 0.3
_BUCKETS = 1000

Code = tuple[System, str]


class AuditedDataError(CacError):
    """An export file that cannot be read as ``cac-decisions`` records."""


@dataclass(frozen=True)
class AuditedNote:
    """One reviewed note: its text (when exported with it) and the codes the review settled."""

    note_id: int
    external_id: str
    text: str | None
    setting: str
    final: frozenset[Code]  # codes the note should have
    rejected: frozenset[Code]  # codes the coder took off
    model: dict[str, object]
    spans: tuple[tuple[int, int, str], ...] = ()  # evidence of the final codes, as mentions
    # codes a coder restored over a convention rule that had kept them back: (code, rule id)
    restored: tuple[tuple[Code, str], ...] = ()

    @property
    def holdout(self) -> bool:
        return is_holdout(self.external_id)


def is_holdout(external_id: str) -> bool:
    """Whether a note is in the audited hold-out (fixed by its external id)."""
    bucket = int(hashlib.sha256(external_id.encode("utf-8")).hexdigest(), 16) % _BUCKETS
    return bucket < HOLDOUT_SHARE * _BUCKETS


def product_code(system: str, code: str) -> Code:
    """A code as the pipeline keys it (ICD-10-CM without its dot, upper case)."""
    parsed = System(system)
    return parsed, code.replace(".", "").upper() if parsed is System.ICD10CM else code.upper()


def _last(decisions: list[ExportedDecision]) -> ExportedDecision | None:
    return max(decisions, key=lambda d: d.sequence, default=None)


def labels(record: NoteRecord) -> tuple[frozenset[Code], frozenset[Code]]:
    """(final codes, rejected codes) of one exported note."""
    final: set[Code] = set()
    rejected: set[Code] = set()
    items = [(s.system, s.code, s.decisions) for s in record.suggestions]
    items += [(a.system, a.code, a.decisions) for a in record.added]
    for system, code, decisions in items:
        last = _last(decisions)
        if last is None:
            continue
        own = product_code(system, code)
        if last.action in ("accept", "add"):
            final.add(own)
        elif last.action == "reject":
            rejected.add(own)
        elif last.action == "replace" and last.final_system and last.final_code:
            rejected.add(own)
            final.add(product_code(last.final_system, last.final_code))
    return frozenset(final), frozenset(rejected - final)


def restored(record: NoteRecord) -> tuple[tuple[Code, str], ...]:
    """Model suggestions a convention rule kept back whose active decision restores them, with
    the rule's id, in rank order."""
    out = []
    for s in record.suggestions:
        last = _last(s.decisions)
        if last is not None and last.restored_suppressed and last.restored_rule:
            out.append((product_code(s.system, s.code), last.restored_rule))
    return tuple(out)


def evidence_spans(record: NoteRecord) -> tuple[tuple[int, int, str], ...]:
    """Mention spans the review confirmed: the evidence of accepted and replaced suggestions
    (a replacement corrects the code, not the mention) and of added codes that stand. A rejected
    suggestion's evidence says nothing certain (a wrong code, or no mention at all)."""
    spans: set[tuple[int, int, str]] = set()
    items = [(s.system, s.evidence, s.decisions) for s in record.suggestions]
    items += [(a.system, a.evidence, a.decisions) for a in record.added]
    for system, evidence, decisions in items:
        last = _last(decisions)
        if last is None or last.action == "reject":
            continue
        final_system = last.final_system or system
        spans.update((start, end, mention_label(System(final_system))) for start, end in evidence)
    return tuple(sorted(spans))


def read_records(paths: Iterable[Path]) -> Iterator[NoteRecord]:
    """Every record of the files, validated.

    Raises:
        AuditedDataError: for a missing file or a line that is not a record (its number only:
            lines may hold note text).
    """
    for path in paths:
        try:
            handle = path.open(encoding="utf-8")
        except OSError as exc:
            raise AuditedDataError(f"cannot read export {path.name}: {exc.strerror}") from None
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield NoteRecord.model_validate_json(line)
                except ValidationError:
                    raise AuditedDataError(
                        f"{path.name} line {number} is not a cac-decisions record"
                    ) from None


def read_audited(paths: Iterable[Path]) -> list[AuditedNote]:
    """The audited notes of one or more exports, the last record of each note id, by id."""
    latest: dict[int, NoteRecord] = {}
    for record in read_records(paths):
        latest[record.note_id] = record
    out = []
    for note_id in sorted(latest):
        record = latest[note_id]
        final, rejected = labels(record)
        out.append(
            AuditedNote(
                record.note_id,
                record.external_id,
                record.text,
                record.setting,
                final,
                rejected,
                dict(record.model),
                evidence_spans(record),
                restored(record),
            )
        )
    return out


def export_hash(paths: Iterable[Path]) -> str:
    """SHA-256 over the export files' bytes, in the order given: the retraining's data lineage."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
