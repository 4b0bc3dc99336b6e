"""A FHIR R4 ``DocumentReference`` with a ``text/plain`` attachment, read as a note (alone or
from a Bundle, :mod:`cac.api.fhir.bundle_in`)."""

from __future__ import annotations

import base64
import binascii
from email.message import Message
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cac.api.errors import InvalidInput, field_errors, summarize
from cac.coding.records import Demographics
from cac.db.notes import NoteInput


class _Element(BaseModel):
    model_config = ConfigDict(extra="allow")


class Identifier(_Element):
    system: str | None = None
    value: str | None = None


class Reference(_Element):
    reference: str | None = None


class Attachment(_Element):
    contentType: str | None = None  # FHIR spelling
    data: str | None = None
    url: str | None = None


class Content(_Element):
    attachment: Attachment


class Period(_Element):
    start: str | None = None


class Context(_Element):
    encounter: list[Reference] = Field(default_factory=list)
    period: Period | None = None


class DocumentReference(_Element):
    """The parts of a DocumentReference cac reads; other elements are accepted and ignored."""

    resourceType: str
    id: str | None = None
    identifier: list[Identifier] = Field(default_factory=list)
    subject: Reference | None = None
    date: str | None = None
    context: Context | None = None
    content: list[Content] = Field(min_length=1)


def _media_type(value: str | None) -> tuple[str, str]:
    message = Message()
    message["content-type"] = value or ""
    return message.get_content_type(), str(message.get_param("charset") or "utf-8")


def _external_id(doc: DocumentReference) -> str:
    for identifier in doc.identifier:
        if identifier.value:
            value = (
                f"{identifier.system}|{identifier.value}" if identifier.system else identifier.value
            )
            if len(value) > 200:
                raise InvalidInput("identifier is over 200 characters; send a shorter one")
            return value
    if doc.id:
        return doc.id[:200]
    raise InvalidInput(
        "the DocumentReference has no identifier.value or id; cac needs one as the note's "
        "external_id"
    )


def _text(doc: DocumentReference) -> str:
    for index, content in enumerate(doc.content):
        attachment = content.attachment
        media_type, charset = _media_type(attachment.contentType)
        if media_type != "text/plain":
            continue
        where = f"content[{index}].attachment"
        if not attachment.data:
            raise InvalidInput(
                f"{where} has no inline data; cac does not fetch attachment URLs, so put the "
                "note base64-encoded in attachment.data"
            )
        try:
            raw = base64.b64decode(attachment.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{where}.data is not valid base64") from None
        try:
            return raw.decode(charset)
        except LookupError:
            raise InvalidInput(f"{where}.contentType names an unknown charset") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}.data is not {charset} text") from None
    raise InvalidInput(
        "the DocumentReference has no text/plain attachment; send the note as "
        "content[].attachment with contentType 'text/plain' and base64 data"
    )


def parse_document(resource: Any, where: str = "") -> DocumentReference:
    """A DocumentReference's parts cac reads; ``where`` names it inside a Bundle in errors.

    Raises:
        InvalidInput: not a DocumentReference, or malformed.
    """
    if not isinstance(resource, dict) or resource.get("resourceType") != "DocumentReference":
        raise InvalidInput(
            "an application/fhir+json body must be a FHIR R4 resource with resourceType "
            "'DocumentReference' or a 'Bundle' holding one"
        )
    try:
        return DocumentReference.model_validate(resource)
    except ValidationError as exc:
        errors = field_errors(exc.errors(include_input=False, include_url=False))
        if where:
            errors = [{**e, "field": f"{where}.{e['field']}"} for e in errors]
        named = f"{where} (DocumentReference)" if where else "the DocumentReference"
        raise InvalidInput(f"{named} is malformed: {summarize(errors)}", errors=errors) from None


def note_from_document(
    doc: DocumentReference,
    setting: str,
    *,
    where: str = "",
    patient_ref: str | None = None,
    encounter_ref: str | None = None,
    demographics: Demographics | None = None,
) -> NoteInput:
    """The note a parsed DocumentReference holds. Without ``patient_ref`` or ``encounter_ref``
    they are the document's own ``subject`` and ``context.encounter[0]`` as written.

    Raises:
        InvalidInput: no identifier, or no usable text attachment.
    """
    try:
        external_id, text = _external_id(doc), _text(doc)
    except InvalidInput as exc:
        if where:
            exc.detail = f"{where} (DocumentReference): {exc.detail}"
        raise
    encounter = (
        doc.context.encounter[0].reference if doc.context and doc.context.encounter else None
    )
    return NoteInput(
        external_id=external_id,
        text=text,
        setting=setting,
        patient_ref=patient_ref or (doc.subject.reference if doc.subject else None),
        encounter_ref=encounter_ref or encounter,
        source="fhir",
        demographics=demographics,
    )


def note_from_fhir(resource: Any, setting: str) -> NoteInput:
    """Read a parsed ``application/fhir+json`` DocumentReference body.

    Raises:
        InvalidInput: not a DocumentReference, no identifier, or no usable text attachment.
    """
    return note_from_document(parse_document(resource), setting)
