"""A Python client generated from the live ``/openapi.json`` with openapi-python-client drives a
real server: notes in as JSON and FHIR, suggestions, decisions, typed 409 and 422 problems, the
audit. The generator runs from its own venv (``.venv-tools``, made by ``make setup``: its pins
conflict with ours) and must print no warning for our schema."""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from cac.api.app import create_app
from cac.config import Settings
from cac.db.engine import Database
from cac.kb.store import KnowledgeBase
from tests.api.conftest import FakeCoder, create_keys, database, live_server, note_text

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".venv-tools" / "bin"
GENERATOR = TOOLS / "openapi-python-client"
CONFIG = REPO / "openapi-client.yaml"
TEXT = note_text("Admitted with pneumonia; history of diabetes.")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    fake_coder: FakeCoder,
    real_kb: KnowledgeBase,
) -> Iterator[tuple[str, dict[str, str]]]:
    home = tmp_path_factory.mktemp("client-home")
    with database("sqlite", home, request) as url:
        keys_db = Database(url)
        keys = create_keys(keys_db)
        keys_db.dispose()
        app = create_app(Settings(home=home, database_url=url), coder=fake_coder, kb=real_kb)
        with live_server(app) as base_url:
            yield base_url, keys


@pytest.fixture(scope="module")
def generated(
    server: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ModuleType, str]]:
    """The client package generated from the running server's /openapi.json, and the
    generator's output."""
    assert GENERATOR.exists(), f"{GENERATOR} is missing: run `make setup`"
    out = tmp_path_factory.mktemp("generated")
    spec = out / "openapi.json"
    spec.write_bytes(httpx.get(f"{server[0]}/openapi.json").content)
    env = {**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(out / "cac_client"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("cac_client"), output
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "cac_client" or m.startswith("cac_client.")]:
            del sys.modules[name]


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_generator_prints_no_warnings_for_our_schema(
    generated: tuple[ModuleType, str],
) -> None:
    _, output = generated

    assert "warning" not in output.lower(), output
    assert "error" not in output.lower(), output


def test_a_generated_client_posts_decides_and_reads_the_audit(
    server: tuple[str, dict[str, str]], generated: tuple[ModuleType, str]
) -> None:
    base_url, keys = server
    package, _ = generated
    models = _module(package, "models")
    post_note = _module(package, "api.notes.post_note")
    get_suggestions = _module(package, "api.notes.get_suggestions")
    get_audit = _module(package, "api.notes.get_audit")
    decide = _module(package, "api.decisions.decide_suggestion")
    ehr = package.AuthenticatedClient(base_url=base_url, token=keys["ehr"])
    coder = package.AuthenticatedClient(base_url=base_url, token=keys["coder"])

    posted = post_note.sync_detailed(
        client=ehr,
        body=models.NoteIn(
            external_id="client/1", text=TEXT, setting=models.NoteInSetting.INPATIENT
        ),
    )
    assert posted.status_code == 201
    note = posted.parsed
    assert isinstance(note, models.NoteOut)
    assert {s.code for s in note.suggestions} == {"J18.9", "E11.9"}

    document = models.DocumentReference.from_dict(
        {
            "resourceType": "DocumentReference",
            "identifier": [{"value": "client/fhir-1"}],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(
                            note_text("Known hypertension.").encode()
                        ).decode(),
                    }
                }
            ],
        }
    )
    fhir = post_note.sync(client=ehr, body=document, setting=models.PostNoteSettingType0.OUTPATIENT)
    assert isinstance(fhir, models.NoteOut)
    assert (fhir.source.value, fhir.setting) == ("fhir", "outpatient")
    assert [s.code for s in fhir.suggestions] == ["I10"]

    listed = get_suggestions.sync(note.id, client=coder)
    assert isinstance(listed, models.SuggestionList)
    first = listed.suggestions[0]
    accepted = decide.sync(
        first.id, client=coder, body=models.DecisionIn(action=models.DecisionInAction.ACCEPT)
    )
    assert isinstance(accepted, models.DecisionResult)
    assert accepted.suggestion.status.value == "accepted"

    again = decide.sync(
        first.id, client=coder, body=models.DecisionIn(action=models.DecisionInAction.REJECT)
    )
    assert isinstance(again, models.Problem)
    assert again.status == 409 and "supersede" in again.detail

    bad_code = decide.sync(
        listed.suggestions[1].id,
        client=coder,
        body=models.DecisionIn(action=models.DecisionInAction.REPLACE, code="NOT-A-CODE"),
    )
    assert isinstance(bad_code, models.Problem)
    assert bad_code.status == 422

    empty_bundle = models.FhirBundleIn.from_dict(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "Patient", "id": "p"}}],
        }
    )
    no_document = post_note.sync(client=ehr, body=empty_bundle)
    assert isinstance(no_document, models.Problem)
    assert no_document.status == 422
    assert [e.field for e in no_document.errors] == ["entry"]

    audit = get_audit.sync(note.id, client=coder)
    assert isinstance(audit, models.AuditOut)
    actions = [e.action for e in audit.events]
    assert actions[:2] == ["note.created", "note.coded"]
    assert "suggestion.decided" in actions
