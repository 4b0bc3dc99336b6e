"""The decisions export: records that validate against the shipped schema, text only on request
(and then audited), ``since`` on decision time, batches that change nothing; both backends."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from cac.api.schemas.impact import ImpactOut
from cac.db import decisions
from cac.db.decisions import Action, DecisionInput
from cac.db.engine import Database
from cac.db.models import AuditEvent, Note, Suggestion
from cac.db.notes import NoteInput, store_coded_note
from cac.exports import decisions as export
from cac.exports.decisions import ExportRequest, ExportRequestError
from cac.impact import ImpactEngine, ImpactRequest, shared_engine
from tests.api.conftest import BACKENDS, PHI, FakeCoder, database, note_text
from tests.exports.sample import TEXT_A, Reviewed, populate


@pytest.fixture(params=BACKENDS)
def reviewed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, Reviewed]]:
    with database(request.param, tmp_path, request) as url:
        db = Database(url)
        yield db, populate(db)
        db.dispose()


def _export(
    db: Database, engine: ImpactEngine | None = None, **options: Any
) -> list[dict[str, Any]]:
    request = ExportRequest(actor="analyst", via="cli", **options)
    return [json.loads(r.to_json()) for r in export.stream(db, request, engine=engine)]


def _text_events(db: Database) -> list[AuditEvent]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "note.text_exported")
                .order_by(AuditEvent.id)
            )
        )


def test_the_shipped_schema_is_valid_and_names_the_format() -> None:
    schema = export.schema()

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format"]["const"] == export.FORMAT
    assert all("description" in field for field in schema["properties"].values())


@pytest.mark.parametrize("include_text", [False, True], ids=["without text", "with text"])
def test_every_record_validates_against_the_schema(
    reviewed: tuple[Database, Reviewed], include_text: bool
) -> None:
    db, _ = reviewed
    validator = jsonschema.Draft202012Validator(
        export.schema(), format_checker=jsonschema.FormatChecker()
    )

    records = _export(db, include_text=include_text)

    assert len(records) == 2
    for record in records:
        validator.validate(record)


def test_a_record_holds_the_review_as_it_stands(reviewed: tuple[Database, Reviewed]) -> None:
    db, ids = reviewed

    records = _export(db)

    assert [r["note_id"] for r in records] == [ids.a, ids.c]  # B was never reviewed
    a = records[0]
    assert (a["external_id"], a["version"], a["setting"]) == ("enc-1/dc", 1, "inpatient")
    assert a["model"] == FakeCoder.model_info
    assert a["text_sha256"] == hashlib.sha256(TEXT_A.encode()).hexdigest()
    assert "text" not in a
    by_code = {s["code"]: s for s in a["suggestions"]}
    assert set(by_code) == {"J18.9", "E11.9", "I10"}
    assert by_code["J18.9"]["confidence"] == 0.9 and by_code["J18.9"]["shown"] is True
    assert by_code["J18.9"]["model_version"].startswith("fake/1")
    start = TEXT_A.lower().find("pneumonia")
    assert by_code["J18.9"]["evidence"] == [[start, start + len("pneumonia")]]
    assert [(d["action"], d["final_code"]) for d in by_code["J18.9"]["decisions"]] == [
        ("accept", "J18.9")
    ]
    chain = by_code["E11.9"]["decisions"]
    assert [(d["sequence"], d["action"], d["coder"]) for d in chain] == [
        (1, "reject", "coder-jane"),
        (2, "accept", "coder-ann"),
    ]
    assert chain[0]["final_code"] is None and chain[0]["reason"] == "not sure"
    assert chain[1]["supersedes"] == chain[0]["id"]
    assert by_code["E11.9"]["status"] == "accepted"
    replaced = by_code["I10"]
    assert replaced["status"] == "replaced"
    assert (replaced["decisions"][0]["final_system"], replaced["decisions"][0]["final_code"]) == (
        "icd10cm",
        "I11.9",
    )
    [added] = a["added"]
    assert (added["code"], added["evidence"], added["status"]) == ("Z79.4", [[0, 7]], "accepted")
    assert [(d["action"], d["final_code"], d["reason"]) for d in added["decisions"]] == [
        ("add", "Z79.4", "insulin in the medication list")
    ]
    assert len({r["export_id"] for r in records}) == 1


def test_since_selects_notes_by_decision_time(reviewed: tuple[Database, Reviewed]) -> None:
    db, ids = reviewed
    in_another_zone = ids.boundary.astimezone(timezone(timedelta(hours=-5)))

    assert [r["note_id"] for r in _export(db, since=ids.boundary)] == [ids.c]
    assert [r["note_id"] for r in _export(db, since=in_another_zone)] == [ids.c]
    assert _export(db, since=datetime.now(UTC) + timedelta(minutes=1)) == []
    assert export.count_notes(db, ids.boundary) == 1
    assert export.count_notes(db, None) == 2


def test_note_text_only_on_request_and_each_note_audited_without_it(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, ids = reviewed

    _export(db)
    assert _text_events(db) == []

    records = _export(db, include_text=True)

    assert records[0]["text"] == TEXT_A
    events = _text_events(db)
    assert [e.note_id for e in events] == [ids.a, ids.c]
    for event in events:
        assert event.actor == "analyst"
        assert event.details == {
            "export_id": records[0]["export_id"],
            "format": export.FORMAT,
            "via": "cli",
        }
        assert PHI not in json.dumps(event.details)


def test_reading_in_batches_changes_nothing(reviewed: tuple[Database, Reviewed]) -> None:
    db, _ = reviewed
    request = ExportRequest(actor="analyst", via="cli", export_id="0" * 32)

    one_by_one = [r.to_json() for r in export.stream(db, request, batch=1)]

    assert one_by_one == [r.to_json() for r in export.stream(db, request)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T10:00:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
        ("2026-11-27T05:00:00-05:00", datetime(2026, 11, 27, 10, tzinfo=UTC)),
    ],
)
def test_since_reads_dates_and_iso_times_as_utc(value: str, expected: datetime) -> None:
    parsed = export.parse_since(value)

    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "27/11/2026", ""])
def test_an_unreadable_since_says_what_to_send(value: str) -> None:
    with pytest.raises(ExportRequestError, match="a date like 2026-11-27"):
        export.parse_since(value)


def test_version_1_still_ships_and_its_records_read_with_empty_new_fields(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, _ = reviewed
    v1 = export.schema("cac-decisions/1")
    jsonschema.Draft202012Validator.check_schema(v1)
    jsonschema.Draft202012Validator.check_schema(export.schema())
    assert v1["properties"]["format"]["const"] == "cac-decisions/1"
    assert export.FORMAT == "cac-decisions/3"
    [record, _] = _export(db)
    # the same record as version 1 wrote it: without the fields versions 2 and 3 added
    old = {k: v for k, v in record.items() if k != "impact"} | {"format": "cac-decisions/1"}
    old["suggestions"] = [
        {k: v for k, v in s.items() if k not in V2_SUGGESTION_FIELDS} for s in record["suggestions"]
    ]
    old["added"] = [dict(a) for a in record["added"]]
    for s in old["suggestions"] + old["added"]:
        s["decisions"] = [
            {k: v for k, v in d.items() if k not in V2_DECISION_FIELDS} for d in s["decisions"]
        ]
    jsonschema.validate(old, v1)

    parsed = export.NoteRecord.model_validate_json(json.dumps(old))

    assert parsed.format == "cac-decisions/1"
    first = parsed.suggestions[0]
    assert (first.rationale, first.suppressed_by, first.alternatives, first.evidence_kinds) == (
        [],
        None,
        [],
        [],
    )
    assert not first.decisions[0].restored_suppressed and first.decisions[0].restored_rule is None


V2_SUGGESTION_FIELDS = {"evidence_kinds", "rationale", "suppressed_by", "alternatives"}
V2_DECISION_FIELDS = {"restored_suppressed", "restored_rule"}


def test_suggestions_stored_before_migration_0002_export_as_mentions_without_rationale(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, ids = reviewed
    with db.write() as session:  # as migration 0002 leaves a row coded before it
        for s in session.scalars(select(Suggestion).where(Suggestion.note_id == ids.a)):
            s.evidence_kinds, s.rationale, s.alternatives = [], [], []

    [a, _] = _export(db)

    for s in a["suggestions"]:
        assert s["evidence_kinds"] == ["mention"] * len(s["evidence"])
        assert (s["rationale"], s["suppressed_by"], s["alternatives"]) == ([], None, [])
    jsonschema.validate(a, export.schema())


def test_a_restored_suppressed_code_is_recorded_on_its_decision(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, _ = reviewed
    text = note_text("Pneumonia with fever.")
    with db.write() as session:
        note = store_coded_note(
            session,
            NoteInput(external_id="enc-9/dc", text=text, setting="inpatient"),
            FakeCoder().code(text),
            actor="ehr-key",
        )
        by_code = {
            s.code: s
            for s in session.scalars(select(Suggestion).where(Suggestion.note_id == note.id))
        }
        fever, pneumonia = by_code["R50.9"].id, by_code["J18.9"].id
    with db.write() as session:
        decisions.decide(session, fever, DecisionInput(Action.ACCEPT, "coder-jane"))
        decisions.decide(session, pneumonia, DecisionInput(Action.ACCEPT, "coder-jane"))

    record = _export(db)[-1]

    jsonschema.validate(record, export.schema())
    got = {s["code"]: s for s in record["suggestions"]}
    assert got["R50.9"]["suppressed_by"]["rule"] == "integral.fever_infection"
    assert got["R50.9"]["decisions"][0]["restored_suppressed"] is True
    assert got["R50.9"]["decisions"][0]["restored_rule"] == "integral.fever_infection"
    assert got["J18.9"]["decisions"][0]["restored_suppressed"] is False
    assert got["J18.9"]["rationale"] == [
        {"rule": "cut.confidence", "section": "I.A.19", "detail": "confidence 0.90"}
    ]


def test_the_impact_schema_is_the_apis(reviewed: tuple[Database, Reviewed]) -> None:
    shipped = export.schema()
    api_schema = ImpactOut.model_json_schema()

    assert "impact" in shipped["required"]
    assert shipped["$defs"]["ImpactOut"] == {k: v for k, v in api_schema.items() if k != "$defs"}
    for name, definition in api_schema["$defs"].items():
        assert shipped["$defs"][name] == definition, f"regenerate $defs.{name} from ImpactOut"


def test_a_record_carries_the_impact_of_the_codes_the_review_left(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, ids = reviewed
    engine = shared_engine()

    a = _export(db, engine=engine)[0]

    assert a["note_id"] == ids.a
    impact = a["impact"]
    # I10 was replaced by I11.9, Z79.4 added: the codes in effect, in rank order
    assert [c["code"] for c in impact["codes"]] == ["J18.9", "E11.9", "I11.9", "Z79.4"]
    expected = engine.assess(ImpactRequest(("J18.9", "E11.9", "I11.9", "Z79.4")))
    assert impact == ImpactOut.of(expected).model_dump(mode="json")
    assert impact["drg"]["code"] == expected.drg.code and impact["drg"]["provisional"]
    assert [h["hcc"] for h in impact["hcc"]["hccs"]] == ["38"]  # E11.9
    assert impact["hcc"]["raf"] is None  # no age and sex stored


def test_a_coders_principal_and_the_notes_demographics_reach_the_exported_impact(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, ids = reviewed
    with db.write() as session:
        note = session.get_one(Note, ids.a)
        note.principal_code, note.principal_set_by = "E11.9", "coder-ann"
        note.patient_age, note.patient_sex = 70, "female"

    impact = _export(db, engine=shared_engine())[0]["impact"]

    assert impact["principal"]["code"] == "E11.9"
    assert impact["principal"]["rule"] == "principal.decided"
    assert impact["drg"]["mdc"] == "10" and impact["drg"]["provisional"] is False
    assert impact["hcc"]["raf"] is not None


def test_without_an_engine_the_impact_is_null_and_older_records_read_without_one(
    reviewed: tuple[Database, Reviewed],
) -> None:
    db, _ = reviewed

    records = _export(db)

    assert all(r["impact"] is None for r in records)
    for record in records:
        jsonschema.validate(record, export.schema())
    old = {k: v for k, v in records[0].items() if k != "impact"}
    old["format"] = "cac-decisions/2"
    jsonschema.validate(old, export.schema("cac-decisions/2"))
    assert export.NoteRecord.model_validate(old).impact is None
