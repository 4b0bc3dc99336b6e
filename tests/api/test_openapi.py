"""The published API description: every route, documented errors, examples; /docs renders."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from cac.api.routes import admin, codes, exports, health, notes, suggestions
from tests.api.conftest import Api


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
        for module in (admin, codes, exports, health, notes, suggestions)
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
    assert len(documented) == 14

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


def test_docs_render_from_packaged_assets(api: Api) -> None:
    page = api.client.get("/docs")
    script = api.client.get("/docs/assets/swagger-ui-bundle.js")

    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text and "/openapi.json" in page.text
    assert "cdn" not in page.text.lower()
    assert script.status_code == 200 and len(script.content) > 100_000
