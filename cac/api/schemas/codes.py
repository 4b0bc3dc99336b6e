"""The code knowledge base over HTTP."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The four code systems, as the API names them (cac.codesets.records.System's values).
SystemName = Literal["icd10cm", "icd10pcs", "hcpcs", "cpt"]


class CodeHit(BaseModel):
    system: str
    code: str
    title: str
    score: float
    billable: bool
    demo: bool
    kind: str


class CodeSearchOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "type 2 diabetes without complications",
                    "results": [
                        {
                            "system": "icd10cm",
                            "code": "E11.9",
                            "title": "Type 2 diabetes mellitus without complications",
                            "score": 0.97,
                            "billable": True,
                            "demo": False,
                            "kind": "code",
                        }
                    ],
                }
            ]
        }
    )

    query: str
    results: list[CodeHit]


class CodeBrief(BaseModel):
    code: str
    title: str
    billable: bool
    active: bool


class CodeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "system": "icd10cm",
                    "code": "E11.9",
                    "title": "Type 2 diabetes mellitus without complications",
                    "kind": "code",
                    "billable": True,
                    "active": True,
                    "demo": False,
                    "parent": {
                        "code": "E11",
                        "title": "Type 2 diabetes mellitus",
                        "billable": False,
                        "active": True,
                    },
                    "children": [],
                    "synonyms": [],
                    "excludes1": [],
                    "excludes2": [],
                    "code_first": [],
                    "use_additional": [],
                    "code_also": [],
                    "axes": {},
                    "attributes": {},
                }
            ]
        }
    )

    system: str
    code: str
    title: str
    kind: str
    billable: bool
    active: bool
    demo: bool
    parent: CodeBrief | None
    children: list[CodeBrief]
    synonyms: list[str]
    excludes1: list[str]
    excludes2: list[str]
    code_first: list[str]
    use_additional: list[str]
    code_also: list[str]
    axes: dict[str, str] = Field(description="ICD-10-PCS axis values.")
    attributes: dict[str, str]
