"""Liveness, readiness and model reloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
                    "schema_revision": "0002",
                    "models": {"kb": "3f9a1c0d2b7e", "pipeline": "lexicon-context/1"},
                }
            ]
        }
    )

    status: Literal["ready"]
    database: str
    schema_revision: str | None
    models: dict[str, Any]


class Reloaded(BaseModel):
    """The models before and after ``POST /v1/admin/reload``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "previous": {
                        "kb": "3f9a1c0d2b7e",
                        "pipeline": "tagger-lexicon-context/2",
                        "ranker_source": "registry: cac-ranker v1",
                    },
                    "current": {
                        "kb": "3f9a1c0d2b7e",
                        "pipeline": "tagger-lexicon-context/2",
                        "ranker_source": "registry: cac-ranker v2",
                    },
                    "seconds": 6.2,
                    "reloaded_at": "2025-05-04T09:30:12Z",
                }
            ]
        }
    )

    previous: dict[str, Any] = Field(description="Versions that served before (empty if none).")
    current: dict[str, Any] = Field(description="Versions that serve now, as in `/readyz`.")
    seconds: float = Field(description="Time spent loading the new models.")
    reloaded_at: datetime = Field(description="When the new models took over (UTC).")
