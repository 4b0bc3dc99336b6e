"""The note page's pieces: segments at every evidence boundary, one colour per highlighted
code, carriage returns kept, and session tokens that only this signer's secret opens."""

from __future__ import annotations

import time

from cac.api.schemas.decisions import EvidenceOut, SuggestionOut
from cac.api.workbench import render
from cac.api.workbench.session import Sessions, Signer
from cac.db.keys import Role


def suggestion(sid: int, spans: list[tuple[int, int]], shown: bool = True) -> SuggestionOut:
    return SuggestionOut(
        id=sid,
        note_id=1,
        system="icd10cm",
        code=f"X{sid}",
        description="",
        confidence=0.5,
        evidence=[EvidenceOut(start=a, end=b, text="", kind="mention") for a, b in spans],
        assertion="present",
        demo=False,
        needs_specificity=False,
        shown=shown,
        rationale=[],
        suppressed_by=None,
        alternatives=[],
        origin="model",
        status="pending",
        model_version=None,
        decision=None,
    )


def test_overlapping_evidence_is_cut_into_segments_naming_every_code() -> None:
    text = "acute kidney injury on chronic kidney disease"
    a = suggestion(1, [(0, 19)])  # acute kidney injury
    b = suggestion(2, [(6, 12), (31, 37)])  # kidney ... kidney
    hidden = suggestion(3, [(23, 30)], shown=False)
    shape = render.layout(text, [a, b, hidden])
    assert shape.colours == {1: 0, 2: 1}
    cut = [(s.start, s.text, s.ids) for s in shape.segments]
    assert cut == [
        (0, "acute ", (1,)),
        (6, "kidney", (1, 2)),
        (12, " injury", (1,)),
        (19, " on chronic ", ()),
        (31, "kidney", (2,)),
        (37, " disease", ()),
    ]
    assert "".join(s.text for s in shape.segments) == text
    assert shape.tail == (hidden,)


def test_carriage_returns_get_segments_of_their_own_and_survive_html() -> None:
    text = "line one\r\npneumonia"
    segments = render.segments(text, [suggestion(1, [(10, 19)])], {1: 0})
    assert [s.text for s in segments] == ["line one", "\r", "\n", "pneumonia"]
    assert str(render.note_text("<b>\r")) == "&lt;b&gt;&#13;"


def test_a_token_opens_only_with_its_secret_and_until_it_expires() -> None:
    signer = Signer(b"one")
    token = signer.sign({"a": 1})
    assert signer.unsign(token) == {"a": 1}
    assert Signer(b"two").unsign(token) is None
    assert signer.unsign(token[:-1]) is None
    sessions = Sessions(b"one", 60)
    cookie, made = sessions.issue(7, "jane", Role.CODER)
    assert sessions.read(cookie) == made
    assert Sessions(b"other", 60).read(cookie) is None
    assert Sessions(b"one", -1).read(Sessions(b"one", -1).issue(7, "jane", Role.CODER)[0]) is None
    login, csrf = sessions.login_token()
    assert sessions.login_csrf(login) == csrf
    assert sessions.read(login) is None  # a sign-in token is not a session
    assert made.expires > time.time()


def test_age_in_the_largest_whole_unit() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert render.age(now - timedelta(minutes=5), now) == "5 min"
    assert render.age(now - timedelta(hours=3, minutes=59), now) == "3 h"
    assert render.age(now - timedelta(days=2, hours=1), now) == "2 d"
