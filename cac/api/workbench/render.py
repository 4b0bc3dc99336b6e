"""What the workbench templates show, computed from the API's views: the note text cut into
highlighted segments, suggestions grouped by code system, ages and audit lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from markupsafe import Markup, escape

from cac.api.schemas.decisions import AuditEventOut, SuggestionOut

PALETTE_SIZE = 12
SYSTEMS = (
    ("icd10cm", "ICD-10-CM"),
    ("icd10pcs", "ICD-10-PCS"),
    ("cpt", "CPT"),
    ("hcpcs", "HCPCS"),
)
SYSTEM_LABELS = dict(SYSTEMS)


@dataclass(frozen=True, slots=True)
class Segment:
    """``text[start:end]`` of the note and the highlighted suggestions whose evidence covers it
    (``colour`` is the first one's)."""

    start: int
    text: str
    ids: tuple[int, ...]
    colour: int | None


@dataclass(frozen=True, slots=True)
class Group:
    system: str
    label: str
    suggestions: tuple[SuggestionOut, ...]


@dataclass(frozen=True, slots=True)
class NoteLayout:
    """The note page's parts: shown codes by system, the codes kept back by a convention rule,
    the ranked tail, each highlighted suggestion's colour and the note's segments."""

    groups: tuple[Group, ...]
    kept_back: tuple[SuggestionOut, ...]
    tail: tuple[SuggestionOut, ...]
    colours: dict[int, int] = field(default_factory=dict)
    segments: tuple[Segment, ...] = ()


def spans(s: SuggestionOut) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in s.evidence if e.start is not None and e.end is not None]


def colours(suggestions: list[SuggestionOut]) -> dict[int, int]:
    """One colour per highlighted (shown, with evidence) suggestion, in page order."""
    lit = [s for s in suggestions if s.shown and spans(s)]
    return {s.id: i % PALETTE_SIZE for i, s in enumerate(lit)}


def segments(text: str, suggestions: list[SuggestionOut], palette: dict[int, int]) -> list[Segment]:
    """The note cut at every evidence boundary of the highlighted suggestions (and before and
    after every carriage return, which the page writes as a character reference so that the
    browser's text keeps the note's offsets)."""
    n = len(text)
    marked = [(s.id, a, b) for s in suggestions if s.id in palette for a, b in spans(s)]
    cuts = {0, n}
    for _, a, b in marked:
        cuts.update((max(0, min(a, n)), max(0, min(b, n))))
    start = text.find("\r")
    while start >= 0:
        cuts.update((start, start + 1))
        start = text.find("\r", start + 1)
    points = sorted(cuts)
    out = []
    for a, b in pairwise(points):
        ids = tuple(dict.fromkeys(i for i, sa, sb in marked if sa <= a and b <= sb))
        out.append(Segment(a, text[a:b], ids, palette[ids[0]] if ids else None))
    return out


def layout(text: str, suggestions: list[SuggestionOut]) -> NoteLayout:
    shown = [s for s in suggestions if s.shown]
    groups = []
    known = {system for system, _ in SYSTEMS}
    for system, label in SYSTEMS:
        members = tuple(s for s in shown if s.system == system)
        if members:
            groups.append(Group(system, label, members))
    others = tuple(s for s in shown if s.system not in known)
    if others:
        groups.append(Group("other", "Other", others))
    ordered = [s for g in groups for s in g.suggestions]
    palette = colours(ordered)
    return NoteLayout(
        groups=tuple(groups),
        kept_back=tuple(s for s in suggestions if not s.shown and s.suppressed_by is not None),
        tail=tuple(s for s in suggestions if not s.shown and s.suppressed_by is None),
        colours=palette,
        segments=tuple(segments(text, ordered, palette)),
    )


def note_text(value: str) -> Markup:
    """Escaped note text with carriage returns as ``&#13;`` (HTML parsing drops a literal CR)."""
    return Markup(str(escape(value)).replace("\r", "&#13;"))


def age(created: datetime, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: ``5 min``, ``3 h``, ``2 d``."""
    now = now or datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    seconds = max(0, int((now - created).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def audit_line(event: AuditEventOut, codes: dict[int, str]) -> str:
    """A short description of an audit event from its details (codes, reasons; no note text)."""
    d = event.details
    code = codes.get(event.suggestion_id or 0) or str(d.get("code", ""))
    if event.action == "suggestion.decided":
        line = f"{d.get('action', '')} {d.get('code', code)}"
        replacement = d.get("replacement")
        if isinstance(replacement, dict):
            line += f" → {replacement.get('code')}"
        if d.get("supersedes"):
            line += " (supersedes an earlier decision)"
    elif event.action == "code.added":
        line = f"added {d.get('code', '')}"
    elif event.action == "impact.recomputed":
        line = str(d.get("cause", "")) or "impact"
        before, after = d.get("before"), d.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            line += f": DRG {before.get('drg') or '-'} → {after.get('drg') or '-'}"
    elif event.action == "note.coded":
        line = f"{d.get('suggestions', 0)} suggestions"
    elif event.action == "note.read":
        line = f"read version {d.get('version', '')} ({d.get('format', '')})"
    elif event.action == "principal.set":
        line = f"principal {d.get('code', '')}"
    else:
        line = ""
    reason = d.get("reason")
    if isinstance(reason, str) and reason:
        line += f" — {reason}"
    return line.strip()
