"""Content negotiation on ``Accept``: JSON (the default) or a FHIR R4 Bundle."""

from __future__ import annotations

from fastapi import Request

from cac.api.intake import FHIR_JSON

_JSON_TYPES = ("application/json", "application/*", "*/*")


def _ranges(header: str) -> dict[str, float]:
    """``{media range: q}`` of an Accept header; a malformed q counts as 1."""
    out: dict[str, float] = {}
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 1.0
        out[media.lower()] = max(q, out.get(media.lower(), 0.0))
    return out


def wants_fhir(request: Request) -> bool:
    """Whether the client asked for ``application/fhir+json`` at least as much as for JSON."""
    ranges = _ranges(request.headers.get("accept", ""))
    fhir = ranges.get(FHIR_JSON, 0.0)
    return fhir > 0 and fhir >= max((ranges.get(t, 0.0) for t in _JSON_TYPES), default=0.0)
