"""Reading request bodies: content types, JSON, and the checks every note must pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from cac.api.errors import (
    InvalidInput,
    InvalidJson,
    PayloadTooLarge,
    UnsupportedMediaType,
    field_errors,
    summarize,
)
from cac.api.fhir.bundle_in import DEFAULT_SETTING, is_bundle, note_from_bundle
from cac.api.fhir.document import note_from_fhir
from cac.api.schemas.notes import NoteIn
from cac.coding.records import Demographics
from cac.db.notes import NoteInput
from cac.pipeline import MAX_TEXT_CHARS

JSON = "application/json"
FHIR_JSON = "application/fhir+json"


def media_type(request: Request) -> str | None:
    header = request.headers.get("content-type")
    if not header:
        return None
    message = Message()
    message["content-type"] = header
    return message.get_content_type()


def require_media_type(request: Request, *allowed: str) -> str:
    """Raises: UnsupportedMediaType naming the accepted types."""
    found = media_type(request)
    if found not in allowed:
        raise UnsupportedMediaType(
            f"send Content-Type {' or '.join(allowed)}"
            + (f", not {found}" if found else "; the request had none")
        )
    return found


def require_json(request: Request) -> None:
    """Dependency for JSON-only routes: a 415 before the body is read as anything else."""
    require_media_type(request, JSON)


def parse_json(body: bytes) -> Any:
    """Raises: InvalidJson with the position of the error (never the body's content)."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8; send UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(
            f"the body is not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno})"
        ) from None


def check_text(text: str) -> None:
    """The limits the API documents for note text.

    Raises:
        InvalidInput: empty or whitespace-only text, or NUL characters.
        PayloadTooLarge: more than ``MAX_TEXT_CHARS`` characters.
    """
    if not text.strip():
        raise InvalidInput("the note text is empty; send the note in 'text'")
    if len(text) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(
            f"the note has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}. "
            "Split the document and post the parts as separate notes"
        )
    if "\x00" in text:
        raise InvalidInput("the note text contains NUL characters; send plain text")


async def read_note(request: Request, fhir_setting: str | None) -> NoteInput:
    """The note in a ``POST /v1/notes`` body, JSON or FHIR (a DocumentReference or a Bundle
    holding one), checked. ``fhir_setting`` is the request's ``?setting=``, if any.

    Raises:
        UnsupportedMediaType, InvalidJson, InvalidInput, PayloadTooLarge.
    """
    kind = require_media_type(request, JSON, FHIR_JSON)
    payload = parse_json(await request.body())
    if kind == FHIR_JSON and is_bundle(payload):
        note = note_from_bundle(payload, fhir_setting, datetime.now(UTC).date())
    elif kind == FHIR_JSON:
        note = note_from_fhir(payload, fhir_setting or DEFAULT_SETTING)
    else:
        if not isinstance(payload, dict):
            raise InvalidInput("the body must be a JSON object with external_id, text, setting")
        try:
            parsed = NoteIn.model_validate(payload)
        except ValidationError as exc:
            errors = field_errors(exc.errors(include_input=False, include_url=False))
            raise InvalidInput(summarize(errors), errors=errors) from None
        note = NoteInput(
            external_id=parsed.external_id,
            text=parsed.text,
            setting=parsed.setting,
            patient_ref=parsed.patient_ref,
            encounter_ref=parsed.encounter_ref,
            source="json",
            demographics=(
                Demographics(age=parsed.patient_age, sex=parsed.patient_sex)
                if parsed.patient_age is not None or parsed.patient_sex is not None
                else None
            ),
        )
    if not note.external_id.strip():
        raise InvalidInput("external_id is blank; send the sender's id of the note")
    check_text(note.text)
    return note
