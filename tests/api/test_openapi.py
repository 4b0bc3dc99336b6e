"""The published API description: every route, documented errors, examples; /docs renders."""

from __future__ import annotations

import re
from typing import Any, cast

import jsonschema
from fastapi.routing import APIRoute

from cac.api.routes import admin, codes, exports, health, impact, notes, suggestions
from cac.api.schemas.decisions import DecisionExportPage, SuggestionList, SuggestionOut
from cac.api.schemas.notes import NoteOut
from tests.api.conftest import Api, note_text


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        resolved: dict[str, Any] = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
        return resolved
    return schema


def _has_example(spec: dict[str, Any], content: dict[str, Any]) -> bool:
    for media in content.values():
        if "example" in media or "examples" in media:
            return True
        if "examples" in _resolve(spec, media.get("schema", {})):
            return True
    return False


def test_openapi_describes_every_route_with_examples(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    routes = {
        (method, route.path)
        for module in (admin, codes, exports, health, impact, notes, suggestions)
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
    assert len(documented) == 16

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            success = [r for s, r in operation["responses"].items() if s.startswith("2")]
            examples = any(_has_example(spec, r.get("content", {})) for r in success)
            body = operation.get("requestBody", {}).get("content", {})
            assert examples or _has_example(spec, body), f"{where} has no example"
            if path.startswith("/v1") or path in ("/readyz", "/metrics"):
                assert {"401", "403"} <= set(operation["responses"]), where
                assert operation["security"] == [{"HTTPBearer": []}], where


def test_post_notes_documents_both_body_types_and_their_errors(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    post = spec["paths"]["/v1/notes"]["post"]

    assert set(post["requestBody"]["content"]) == {"application/json", "application/fhir+json"}
    assert {"200", "201", "400", "413", "415", "422"} <= set(post["responses"])
    assert "NoteIn" in spec["components"]["schemas"]
    assert "DocumentReference" in spec["components"]["schemas"]
    problem = post["responses"]["422"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    get = spec["paths"]["/v1/notes/{note_id}"]["get"]
    for operation, status in ((post, "201"), (post, "200"), (get, "200")):
        content = operation["responses"][status]["content"]
        assert set(content) == {"application/json", "application/fhir+json"}
        fhir = content["application/fhir+json"]
        assert fhir["schema"] == {"$ref": "#/components/schemas/FhirBundle"}
        _validator(spec, "FhirBundle").validate(fhir["example"])


def test_docs_render_from_packaged_assets(api: Api) -> None:
    page = api.client.get("/docs")
    script = api.client.get("/docs/assets/swagger-ui-bundle.js")

    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text and "/openapi.json" in page.text
    assert "cdn" not in page.text.lower()
    assert script.status_code == 200 and len(script.content) > 100_000


def _validator(spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator of one component schema of the published OpenAPI 3.1 description."""
    root = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(root)


def test_suggestions_and_their_examples_match_the_published_schemas(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    note = api.post_note(note_text_with_everything()).json()
    suggestions = api.client.get(
        f"/v1/notes/{note['id']}/suggestions", headers=api.auth("coder")
    ).json()

    _validator(spec, "NoteOut").validate(note)
    _validator(spec, "SuggestionList").validate(suggestions)
    assert any(s["suppressed_by"] for s in suggestions["suggestions"])
    assert any(s["rationale"] for s in suggestions["suggestions"])
    # The examples as written (the served JSON leaves out their null members, as FastAPI does).
    for model in (NoteOut, SuggestionOut, SuggestionList, DecisionExportPage):
        extra = cast("dict[str, list[dict[str, Any]]]", model.model_config["json_schema_extra"])
        for example in extra["examples"]:
            _validator(spec, model.__name__).validate(example)
            model.model_validate(example)
    suggestion = spec["components"]["schemas"]["SuggestionOut"]
    assert {"rationale", "suppressed_by", "alternatives"} <= set(suggestion["required"])
    assert "kind" in spec["components"]["schemas"]["EvidenceOut"]["properties"]


def note_text_with_everything() -> str:
    return note_text("Pneumonia with fever. Known CKD.")


def test_every_operation_has_a_short_stable_operation_id(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    ids = {
        f"{method.upper()} {path}": operation.get("operationId", "")
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }

    assert all(re.fullmatch(r"[a-z][A-Za-z]{2,30}", i) for i in ids.values()), ids
    assert not [i for i in ids.values() if i.endswith(("_get", "_post"))]
    assert len(set(ids.values())) == len(ids)
    # The names clients are generated with: changing one breaks every client.
    assert ids["POST /v1/notes"] == "postNote"
    assert ids["GET /v1/notes/{note_id}"] == "getNote"
    assert ids["GET /v1/notes/{note_id}/suggestions"] == "getSuggestions"
    assert ids["POST /v1/suggestions/{suggestion_id}/decision"] == "decideSuggestion"
    assert ids["POST /v1/notes/{note_id}/codes"] == "addCode"
    assert ids["GET /v1/notes/{note_id}/audit"] == "getAudit"
    assert ids["GET /v1/codes/search"] == "searchCodes"
    assert ids["GET /v1/codes/{system}/{code}"] == "getCode"
    assert ids["GET /v1/exports/decisions"] == "exportDecisions"


def test_code_systems_are_an_enum_where_the_service_enforces_one(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    systems = ["icd10cm", "icd10pcs", "hcpcs", "cpt"]
    [path_system] = [
        p
        for p in spec["paths"]["/v1/codes/{system}/{code}"]["get"]["parameters"]
        if p["name"] == "system"
    ]
    assert path_system["schema"]["enum"] == systems
    add = spec["components"]["schemas"]["AddCodeIn"]["properties"]["system"]
    assert add["enum"] == systems
