"""What a code list is worth: ``POST /v1/impact`` in, ``impact`` on notes and that route out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

if TYPE_CHECKING:
    from cac.impact import Impact

IMPACT_EXAMPLE: dict[str, JsonValue] = {
    "codes": ["J18.9", "J96.01", "I50.9"],
    "pcs": [],
    "setting": "inpatient",
    "age": 70,
    "sex": "F",
}


class ImpactIn(BaseModel):
    """A what-if question: ICD-10-CM codes in order (the first is the principal), ICD-10-PCS
    codes, the setting and, when known, age and sex. Nothing is stored."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [IMPACT_EXAMPLE]})

    codes: list[str] = Field(
        min_length=1,
        max_length=50,
        description="ICD-10-CM codes, billable and active; the first is the principal "
        "(inpatient) or first-listed (outpatient) diagnosis.",
    )
    pcs: list[str] = Field(default_factory=list, max_length=50, description="ICD-10-PCS codes.")
    setting: Literal["inpatient", "outpatient"] = "inpatient"
    age: int | None = Field(
        default=None, ge=0, le=124, strict=True, description="Age in whole years."
    )
    sex: Literal["F", "M", "female", "male"] | None = Field(
        default=None, description="Sex for the grouper and the HCC model."
    )


class PrincipalIn(BaseModel):
    """A coder's choice of principal diagnosis for a note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"code": "J96.01", "reason": "respiratory failure occasioned the stay"}]
        },
    )

    code: str = Field(
        min_length=1, max_length=16, description="One of the note's ICD-10-CM codes in effect."
    )
    reason: str | None = Field(default=None, max_length=1000)


class PrincipalOut(BaseModel):
    code: str
    rule: str = Field(description="`principal.decided`, `sepsis_first`, `principal.first_listed`…")
    section: str = Field(description="ICD-10-CM Official Guidelines section.")
    reason: str


class DrgOut(BaseModel):
    code: str | None = Field(description="MS-DRG, three digits; null when ungroupable.")
    title: str | None
    mdc: str | None
    mdc_title: str | None
    weight: float | None = Field(description="CMS FY2026 relative weight (Table 5).")
    severity: str | None = Field(description="MCC, CC or NONE: what the secondaries gave.")
    version: str
    provisional: bool = Field(description="Age or sex missing, or the claim did not group.")
    provisional_reason: str | None
    return_code: str


class CodeImpactOut(BaseModel):
    code: str
    system: Literal["icd10cm", "icd10pcs"]
    role: Literal["principal", "secondary", "procedure"]
    cc_mcc: Literal["MCC", "CC"] | None = Field(
        description="After the principal's CC exclusions; null for the principal itself."
    )
    cc_excluded: bool = Field(description="A CC/MCC the principal's exclusion list cancels.")
    drg_impact: bool = Field(description="The grouper used this code to set the DRG.")
    hccs: list[str] = Field(description="CMS-HCC V28 categories, before hierarchies.")


class HccEntryOut(BaseModel):
    hcc: str
    label: str
    coefficient: float
    codes: list[str]


class HccOut(BaseModel):
    model: str
    hccs: list[HccEntryOut] = Field(description="The HCCs left after hierarchies.")
    raf: float | None = Field(description="Full risk score; null without age and sex.")
    raf_disease: float = Field(description="HCCs and their interactions.")
    raf_demographic: float | None
    segment: str
    dropped_by_hierarchy: list[str]


class PromptEffectOut(BaseModel):
    code: str
    cc_mcc: Literal["MCC", "CC"] | None
    drg: str | None
    weight: float | None
    hccs: list[str]


class PromptOut(BaseModel):
    """A documentation-improvement question; it never changes a code."""

    id: str
    code: str = Field(description="The vague code the prompt concerns.")
    axis: str = Field(description="The code-set axis the documentation does not state.")
    question: str
    allows: list[PromptEffectOut] = Field(description="Codes an answer could allow, measured.")
    effect: str


class ImpactOut(BaseModel):
    setting: Literal["inpatient", "outpatient"]
    principal: PrincipalOut | None
    drg: DrgOut | None = Field(description="Inpatient only.")
    codes: list[CodeImpactOut]
    hcc: HccOut = Field(description="CMS-HCC V28.")
    hcc_v24: HccOut = Field(description="CMS-HCC V24, for blend years.")
    prompts: list[PromptOut]

    @classmethod
    def of(cls, impact: Impact) -> ImpactOut:
        """The API's (and the decisions export's) form of an engine answer."""
        return cls.model_validate(impact.to_json())
