"""The RFC 9457 problem document, for OpenAPI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `text` or `evidence.0.end`.")
    message: str = Field(description="What is wrong there.")


class Problem(BaseModel):
    """Every error: ``Content-Type: application/problem+json``."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:cac:problem:invalid-input",
                    "title": "The request is not valid",
                    "status": 422,
                    "detail": "the note is empty; send the note text in 'text'",
                    "instance": "/v1/notes",
                    "request_id": "5f0c9f6e2b7d4f0e9a1c3d2b1a0f9e8d",
                }
            ]
        },
    )

    type: str = Field(description="A URI naming the kind of problem (`urn:cac:problem:...`).")
    title: str
    status: int
    detail: str = Field(description="What went wrong and how to fix it.")
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Also in the service log.")
    errors: list[FieldError] | None = Field(default=None, description="Field-level problems.")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, all documented as problem+json."""
    descriptions = {
        400: "Invalid JSON",
        401: "No API key, or an unknown or revoked one",
        403: "The key's role may not do this",
        404: "No such note, suggestion or code",
        409: "Conflicts with what is stored (e.g. a decision already made)",
        413: "The note is over the size limit",
        415: "Unsupported Content-Type",
        422: "Invalid input; `detail` and `errors` say what to fix",
        500: "Server error; `detail` says what failed, the service log has more",
        503: "Models still loading, or the database is unreachable",
    }
    return {
        status: {
            "description": descriptions.get(status, "Error"),
            "content": {
                "application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": {
                        "type": "urn:cac:problem:...",
                        "title": descriptions.get(status, "Error"),
                        "status": status,
                        "detail": "what went wrong and how to fix it",
                        "request_id": "5f0c9f6e2b7d4f0e9a1c3d2b1a0f9e8d",
                    },
                }
            },
        }
        for status in statuses
    }
