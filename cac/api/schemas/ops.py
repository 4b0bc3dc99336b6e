"""Liveness and readiness."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


class Ready(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "database": "sqlite",
                    "schema_revision": "0001",
                    "models": {"kb": "3f9a1c0d2b7e", "pipeline": "lexicon-context/1"},
                }
            ]
        }
    )

    status: Literal["ready"]
    database: str
    schema_revision: str | None
    models: dict[str, Any]
