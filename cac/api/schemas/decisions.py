"""Suggestions, decisions, added codes and the audit history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from cac.api.schemas.codes import SystemName

_REASON = Field(default=None, max_length=2000, description="Why (kept in the audit).")

DECISION_EXAMPLE: dict[str, JsonValue] = {
    "id": 17,
    "suggestion_id": 311,
    "note_id": 42,
    "sequence": 1,
    "action": "replace",
    "system": "icd10cm",
    "code": "J15.9",
    "reason": "culture grew gram-negative bacteria",
    "coder": "coder-jane",
    "supersedes": None,
    "created_at": "2026-11-27T10:20:00Z",
}
RATIONALE_EXAMPLE: dict[str, JsonValue] = {
    "rule": "cut.confidence",
    "section": "I.A.19",
    "detail": "the note states it: confidence 0.82 at or above 0.41",
}
SUPPRESSION_EXAMPLE: dict[str, JsonValue] = {
    "rule": "integral.fever_infection",
    "section": "I.B.5",
    "code": "J18.9",
    "detail": "fever is routinely part of an infection",
}
SUGGESTION_EXAMPLE: dict[str, JsonValue] = {
    "id": 311,
    "note_id": 42,
    "system": "icd10cm",
    "code": "J18.9",
    "description": "Pneumonia, unspecified organism",
    "confidence": 0.82,
    "evidence": [{"start": 78, "end": 87, "text": "pneumonia", "kind": "mention"}],
    "assertion": "present",
    "demo": False,
    "needs_specificity": False,
    "shown": True,
    "rationale": [RATIONALE_EXAMPLE],
    "suppressed_by": None,
    "alternatives": [],
    "origin": "model",
    "status": "replaced",
    "model_version": "lexicon-context/1;kb=3f9a1c0d2b7e",
    "decision": DECISION_EXAMPLE,
}


# A code a convention rule kept out of the shown list, as a coder sees it (restored by
# accepting it).
SUPPRESSED_EXAMPLE: dict[str, JsonValue] = {
    **SUGGESTION_EXAMPLE,
    "id": 312,
    "code": "R50.9",
    "description": "Fever, unspecified",
    "confidence": 0.64,
    "evidence": [{"start": 95, "end": 100, "text": "fever", "kind": "mention"}],
    "shown": False,
    "rationale": [],
    "suppressed_by": SUPPRESSION_EXAMPLE,
    "status": "pending",
    "decision": None,
}


class EvidenceOut(BaseModel):
    start: int | None = Field(
        description="Character offset in the note text (inclusive); null for `inferred`."
    )
    end: int | None = Field(
        description="Character offset in the note text (exclusive); null for `inferred`."
    )
    text: str = Field(description="`text[start:end]` of the note; empty for `inferred`.")
    kind: Literal["mention", "abbreviation", "combination", "inferred"] = Field(
        description="How the span states the code: `mention` (its words name it), "
        "`abbreviation` (an abbreviation of it), `combination` (one of the conditions a "
        "combination code joins). A model's code that no words of the note state has one "
        "entry of kind `inferred`, without offsets: nothing to highlight. Spans stored without "
        "a kind, and a coder's spans, are `mention`."
    )


class RuleCitationOut(BaseModel):
    """A coding rule behind a shown code."""

    model_config = ConfigDict(json_schema_extra={"examples": [RATIONALE_EXAMPLE]})

    rule: str = Field(
        description="The rule's id, e.g. `cut.confidence`, `combination.diabetes_ckd`."
    )
    section: str = Field(description="The ICD-10-CM guideline section it implements (`I.A.19`).")
    detail: str = Field(description="A short sentence about codes (never note text).")


class SuppressionOut(BaseModel):
    """Why a candidate the note supports is not in the shown list."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUPPRESSION_EXAMPLE]})

    rule: str = Field(description="The convention rule's id, e.g. `integral.fever_infection`.")
    section: str = Field(description="The ICD-10-CM guideline section it implements.")
    code: str | None = Field(
        description="The shown code that displaced it; null when no single code did (e.g. a "
        "non-billable node)."
    )
    detail: str = Field(description="A short sentence about codes (never note text).")


class DecisionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [DECISION_EXAMPLE]})

    id: int
    suggestion_id: int
    note_id: int
    sequence: int = Field(description="1 for the first decision, then 2, 3... when superseded.")
    action: Literal["accept", "reject", "replace", "add"]
    system: str | None = Field(
        description="The replacement's system (replace) or the code's (add)."
    )
    code: str | None = Field(description="The replacement code (replace) or added code (add).")
    reason: str | None
    coder: str = Field(description="Name of the API key that decided.")
    supersedes: int | None = Field(description="The decision this one replaced, if any.")
    created_at: datetime


class SuggestionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [SUGGESTION_EXAMPLE, SUPPRESSED_EXAMPLE]}
    )

    id: int
    note_id: int
    system: str
    code: str
    description: str
    confidence: float | None = Field(description="Model confidence; null for coder-added codes.")
    evidence: list[EvidenceOut]
    assertion: str | None
    demo: bool = Field(description="CPT demo description, not AMA text.")
    needs_specificity: bool
    shown: bool = Field(description="In the list a coder reviews (the rest is the ranked tail).")
    rationale: list[RuleCitationOut] = Field(
        description="The coding rules that made or kept a shown code; empty for codes not shown "
        "and for coder-added codes (and for notes coded before rationales were stored)."
    )
    suppressed_by: SuppressionOut | None = Field(
        description="Set on a code the note supports that a convention rule kept out of the "
        "shown list (`shown` is false); accepting it restores it, and the export records the "
        "restore."
    )
    alternatives: list[str] = Field(
        description="For a `needs_specificity` code: the billable codes it can become."
    )
    origin: Literal["model", "coder"]
    status: Literal["pending", "accepted", "rejected", "replaced"]
    model_version: str | None
    decision: DecisionOut | None = Field(description="The active (latest) decision.")


class SuggestionList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"note_id": 42, "suggestions": [SUGGESTION_EXAMPLE, SUPPRESSED_EXAMPLE]}]
        }
    )

    note_id: int
    suggestions: list[SuggestionOut]


class DecisionIn(BaseModel):
    """A coder's decision on one suggestion."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "accept"},
                {"action": "reject", "reason": "ruled out on imaging"},
                {"action": "replace", "code": "J15.9", "reason": "gram-negative on culture"},
                {"action": "accept", "supersede": True, "reason": "second look"},
            ]
        },
    )

    action: Literal["accept", "reject", "replace"]
    code: str | None = Field(default=None, description="The replacement code (replace only).")
    system: SystemName | None = Field(
        default=None, description="The replacement's system (replace only; default: the same)."
    )
    reason: str | None = _REASON
    supersede: bool = Field(
        default=False,
        description="Replace an earlier decision on this suggestion (both stay in the audit); "
        "without it a second decision is a 409.",
    )

    @model_validator(mode="after")
    def _code_only_for_replace(self) -> DecisionIn:
        if self.action == "replace" and not self.code:
            raise ValueError("a replace needs the replacement 'code'")
        if self.action != "replace" and (self.code is not None or self.system is not None):
            raise ValueError("'code' and 'system' go only with action 'replace'")
        return self


class DecisionResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"decision": DECISION_EXAMPLE, "suggestion": SUGGESTION_EXAMPLE}]
        }
    )

    decision: DecisionOut
    suggestion: SuggestionOut


class SpanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SpanIn:
        if self.end <= self.start:
            raise ValueError("'end' must be greater than 'start'")
        return self


class AddCodeIn(BaseModel):
    """A code the model missed, added by a coder."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "system": "icd10cm",
                    "code": "E11.9",
                    "evidence": [{"start": 19, "end": 46}],
                    "reason": "diabetes documented in history",
                }
            ]
        },
    )

    system: SystemName = Field(description="icd10cm, icd10pcs, hcpcs or cpt.")
    code: str = Field(description="A billable, active code, with or without the ICD dot.")
    evidence: list[SpanIn] = Field(default_factory=list, max_length=50)
    reason: str | None = _REASON


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    action: str = Field(
        description="note.created, note.coded, note.reposted, suggestion.decided, code.added, "
        "impact.recomputed, principal.set, "
        "note.text_exported."
    )
    actor: str = Field(description="Name of the API key.")
    suggestion_id: int | None
    decision_id: int | None
    details: dict[str, Any] = Field(description="Ids, codes, reasons; never note text.")
    request_id: str | None


class AuditOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "note_id": 42,
                    "events": [
                        {
                            "id": 1,
                            "at": "2026-11-27T10:15:00Z",
                            "action": "note.created",
                            "actor": "epic-bridge",
                            "suggestion_id": None,
                            "decision_id": None,
                            "details": {"external_id": "enc-1", "version": 1, "source": "json"},
                            "request_id": "5f0c9f6e2b7d4f0e9a1c3d2b1a0f9e8d",
                        }
                    ],
                }
            ]
        }
    )

    note_id: int
    events: list[AuditEventOut]


class DecisionExport(DecisionOut):
    """A decision with what it decided on, for training exports (no note text)."""

    suggestion_system: str
    suggestion_code: str
    suggestion_origin: Literal["model", "coder"]
    suggestion_rationale: list[RuleCitationOut] = Field(
        description="The rules behind the suggestion, as stored (see `SuggestionOut`)."
    )
    suggestion_suppressed_by: SuppressionOut | None = Field(
        description="The convention rule that kept the suggestion out of the shown list."
    )
    restored_suppressed: bool = Field(
        description="This decision accepts a suggestion a convention rule had kept back "
        "(`suggestion_suppressed_by` names the rule): the coder restored it."
    )
    model_version: str | None
    external_id: str
    note_version: int


class DecisionExportPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decisions": [
                        {
                            **DECISION_EXAMPLE,
                            "suggestion_system": "icd10cm",
                            "suggestion_code": "J18.9",
                            "suggestion_origin": "model",
                            "suggestion_rationale": [RATIONALE_EXAMPLE],
                            "suggestion_suppressed_by": None,
                            "restored_suppressed": False,
                            "model_version": "lexicon-context/1;kb=3f9a1c0d2b7e",
                            "external_id": "enc-2026-000123/discharge-summary",
                            "note_version": 1,
                        }
                    ],
                    "next_after": None,
                }
            ]
        }
    )

    decisions: list[DecisionExport]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )
