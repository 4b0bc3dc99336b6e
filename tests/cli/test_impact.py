"""``cac impact``: the JSON shape the issue gives, and a bad code fails cleanly."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cac.cli.main import app

pytestmark = pytest.mark.kb


def test_cac_impact_prints_drg_codes_hcc_and_prompts(real_home: object) -> None:
    result = CliRunner().invoke(
        app,
        ["impact", "J18.9", "J96.01", "--pcs", "0BH17EZ", "--age", "70", "--sex", "F", "--json"],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body["drg"]) >= {"code", "title", "mdc", "weight", "provisional"}
    assert (body["drg"]["code"], body["drg"]["provisional"]) == ("193", False)
    assert [(c["code"], c["cc_mcc"]) for c in body["codes"]] == [
        ("J18.9", None),
        ("J96.01", "MCC"),
        ("0BH17EZ", None),
    ]
    assert body["codes"][1]["hccs"] == ["213"]
    assert set(body["hcc"]) >= {"model", "hccs", "raf"}
    assert isinstance(body["prompts"], list)


def test_cac_impact_rejects_a_category_and_a_bad_sex(real_home: object) -> None:
    category = CliRunner().invoke(app, ["impact", "J18"])
    assert category.exit_code == 1 and "not a billable" in category.output
    sex = CliRunner().invoke(app, ["impact", "J18.9", "--sex", "X"])
    assert sex.exit_code != 0
