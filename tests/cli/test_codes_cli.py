"""``cac codes`` and ``cac kb`` against the real knowledge base, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cac.cli.main import app

runner = CliRunner()
pytestmark = pytest.mark.kb


def _json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_show_billable_code_with_parent_and_notes() -> None:
    view = _json("codes", "show", "icd10cm", "E11.9")
    assert view["title"] == "Type 2 diabetes mellitus without complications"
    assert view["billable"] is True
    parent = view["parent"]
    assert isinstance(parent, dict) and parent["code"] == "E11"
    assert any("E10" in note or "E08" in note for note in parent["excludes1"])
    assert view["excludes1"]


def test_show_category_lists_children_and_is_not_billable() -> None:
    view = _json("codes", "show", "icd10cm", "e11")
    assert view["billable"] is False
    children = view["children"]
    assert isinstance(children, list)
    assert "E11.9" in [c["code"] for c in children]


def test_seventh_character_codes() -> None:
    assert _json("codes", "show", "icd10cm", "S72.001A")["billable"] is True
    assert _json("codes", "show", "icd10cm", "S72001")["billable"] is False


def test_hcpcs_crutches() -> None:
    view = _json("codes", "show", "hcpcs", "e0110")
    assert "crutches" in str(view["title"]).lower()


def test_cpt_demo_codes_are_flagged() -> None:
    assert _json("codes", "show", "cpt", "99213")["demo"] is True


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["codes", "show", "icd10cm", "E11.99"], "E11.99"),
        (["codes", "show", "icd11", "E11"], "icd11"),
        (["codes", "search", "diabetes", "--system", "snomed"], "snomed"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args: list[str], named: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and lines[0].startswith("error:")


def test_search_json_ranks_e119_first() -> None:
    result = runner.invoke(
        app,
        [
            "codes",
            "search",
            "type 2 diabetes without complications",
            "--system",
            "icd10cm",
            "--json",
        ],
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["code"] == "E11.9"


def test_search_lap_chole_pcs_top_five() -> None:
    result = runner.invoke(
        app,
        [
            "codes",
            "search",
            "laparoscopic cholecystectomy",
            "--system",
            "icd10pcs",
            "--limit",
            "5",
            "--json",
        ],
    )
    assert "0FT44ZZ" in [hit["code"] for hit in json.loads(result.stdout)]


def test_kb_build_rerun_says_nothing_to_do() -> None:
    result = runner.invoke(app, ["kb", "build"])
    assert result.exit_code == 0
    assert "nothing to do" in result.stdout


def test_kb_build_with_missing_user_file_fails_and_keeps_artifact(real_home: Path) -> None:
    manifest = (real_home / "kb" / "manifest.json").read_text()
    result = runner.invoke(app, ["kb", "build", "--cpt-file", str(real_home / "no-such-cpt.tsv")])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no-such-cpt.tsv" in errors[0]
    assert (real_home / "kb" / "manifest.json").read_text() == manifest
