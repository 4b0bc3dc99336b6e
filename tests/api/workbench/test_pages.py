"""The workbench over HTTP (both database backends): sign-in, cookie flags, CSRF, sign-out,
security headers, the worklist's order, filters and count, roles, and errors that keep note
text out."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from cac.api.workbench.pages import CSP
from cac.api.workbench.session import SESSION_COOKIE
from cac.db.keys import revoke_key
from tests.api.conftest import PHI, Api, note_text

LOGIN = "/workbench/login"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in; returns the session's CSRF token (from the worklist page)."""
    page = client.get(LOGIN)
    r = client.post(
        LOGIN, data={"api_key": key, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/workbench"
    return csrf_of(client.get("/workbench").text)


def test_pages_need_a_session(api: Api) -> None:
    for path in ("/workbench", "/workbench/notes/1"):
        r = api.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == LOGIN
    r = api.client.post("/workbench/suggestions/1/decision", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["HX-Redirect"] == LOGIN


def test_a_wrong_key_shows_an_error_and_sets_no_cookie(api: Api) -> None:
    csrf = csrf_of(api.client.get(LOGIN).text)
    for key in ("cac_not-a-key", api.keys["revoked"], api.keys["ehr"]):
        r = api.client.post(LOGIN, data={"api_key": key, "csrf_token": csrf})
        assert r.status_code == 401
        assert "set-cookie" not in r.headers
        assert 'role="alert"' in r.text and key not in r.text
    assert SESSION_COOKIE not in api.client.cookies


def test_sign_in_sets_a_signed_http_only_strict_cookie_and_never_shows_the_key(api: Api) -> None:
    key = api.keys["coder"]
    page = api.client.get(LOGIN)
    r = api.client.post(
        LOGIN, data={"api_key": key, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=strict" in flags and "max-age=28800" in flags
    assert "secure" not in flags  # plain http here; see the TLS test
    assert key not in cookie and key not in r.headers["location"]
    worklist = api.client.get("/workbench")
    assert worklist.status_code == 200 and key not in worklist.text
    assert "Signed in as <strong>coder-key</strong>" in worklist.text


def test_the_cookie_is_secure_behind_tls(api: Api) -> None:
    client = TestClient(api.client.app, base_url="https://testserver")
    page = client.get(LOGIN)
    r = client.post(
        LOGIN,
        data={"api_key": api.keys["coder"], "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "secure" in cookie.lower()


def test_sign_in_needs_the_forms_csrf_token(api: Api) -> None:
    api.client.get(LOGIN)
    r = api.client.post(LOGIN, data={"api_key": api.keys["coder"], "csrf_token": "forged"})
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_a_tampered_expired_or_revoked_session_is_signed_out(api: Api) -> None:
    sign_in(api.client, api.keys["coder"])
    good = api.client.cookies[SESSION_COOKIE]
    body, mac = good.rsplit(".", 1)
    sessions = api.client.app.state.workbench_sessions  # type: ignore[attr-defined]
    expired = sessions._signer.sign(
        {
            "t": "session",
            "k": 1,
            "n": "coder-key",
            "r": "admin",
            "e": int(time.time()) - 1,
            "c": "x",
        }
    )
    for value in (f"{body}x.{mac}", f"{body}.{mac[:-2]}AA", expired):
        api.client.cookies.clear()
        api.client.cookies.set(SESSION_COOKIE, value)
        assert api.client.get("/workbench", follow_redirects=False).status_code == 303
    api.client.cookies.clear()
    api.client.cookies.set(SESSION_COOKIE, good)
    assert api.client.get("/workbench").status_code == 200
    revoke_key(api.db, "coder-key")
    assert api.client.get("/workbench", follow_redirects=False).status_code == 303


def test_form_posts_need_the_session_csrf_token_and_sign_out_works(api: Api) -> None:
    note = api.post_note().json()
    sid = note["suggestions"][0]["id"]
    csrf = sign_in(api.client, api.keys["coder"])
    url = f"/workbench/suggestions/{sid}/decision"
    for token in ("", "wrong"):
        r = api.client.post(url, data={"action": "accept", "csrf_token": token})
        assert r.status_code == 403
    assert api.counts()["decisions"] == 0
    r = api.client.post(url, data={"action": "accept"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and api.counts()["decisions"] == 1
    assert api.client.post("/workbench/logout", data={}).status_code == 403
    r = api.client.post("/workbench/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == LOGIN
    assert SESSION_COOKIE not in api.client.cookies
    assert api.client.get("/workbench", follow_redirects=False).status_code == 303


def test_pages_are_not_cached_and_allow_no_inline_script(api: Api) -> None:
    note_id = api.post_note().json()["id"]
    csrf = sign_in(api.client, api.keys["coder"])
    responses = [
        api.client.get(LOGIN, follow_redirects=False),
        api.client.get("/workbench"),
        api.client.get(f"/workbench/notes/{note_id}"),
        api.client.post("/workbench/codes/search", data={"q": "pneumonia", "csrf_token": csrf}),
    ]
    for r in responses:
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    page = responses[2].text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline script in the note page"
    assert not re.search(r"\sstyle=|\son[a-z]+=", page), "inline style or handler"
    assert "https://" not in page and "http://" not in page  # nothing from elsewhere


def test_the_worklist_is_the_notes_awaiting_review_oldest_first(api: Api) -> None:
    first = api.post_note(note_text("pneumonia and hypertension."), external_id="a").json()
    api.post_note(note_text("crutches for the ankle."), external_id="b", setting="outpatient")
    api.post_note(note_text("laparoscopic appendectomy."), external_id="c")
    # A new version of "a": only the newest version is listed.
    api.post_note(note_text("pneumonia, hypertension and diabetes."), external_id="a")
    for s in first["suggestions"]:
        api.decide(s["id"], action="accept")
    sign_in(api.client, api.keys["coder"])

    def listed(query: str = "") -> list[str]:
        page = api.client.get(f"/workbench{query}").text
        return re.findall(r'class="note-link">([^<]+)</a>', page)

    assert listed() == ["b", "c", "a"]
    page = api.client.get("/workbench").text
    assert "3 notes awaiting review" in page
    assert listed("?setting=outpatient") == ["b"]
    assert listed("?system=icd10pcs") == ["c"]
    assert listed("?system=hcpcs&setting=inpatient") == []
    row = re.search(r'note-link">a</a>.*?</tr>', page, re.S)
    assert row is not None
    assert re.findall(r'class="chip st-pending"[^>]*>([^<]+)<', row.group(0)) == [
        "J18.9",
        "E11.9",
        "I10",
    ]
    assert '<td class="num">3</td>' in row.group(0)
    assert api.client.get("/workbench?status=bogus").status_code == 422


def test_done_and_all_filters(api: Api) -> None:
    note = api.post_note(note_text("pneumonia."), external_id="x").json()
    api.post_note(note_text("hypertension."), external_id="y")
    for s in note["suggestions"]:
        if s["shown"]:
            api.decide(s["id"], action="reject", reason="no")
    sign_in(api.client, api.keys["coder"])
    links = r'class="note-link">([^<]+)</a>'
    assert re.findall(links, api.client.get("/workbench?status=done").text) == ["x"]
    assert re.findall(links, api.client.get("/workbench?status=all").text) == ["x", "y"]
    assert re.findall(links, api.client.get("/workbench").text) == ["y"]


def test_a_data_scientist_reads_but_cannot_decide(api: Api) -> None:
    note = api.post_note().json()
    csrf = sign_in(api.client, api.keys["data_scientist"])
    page = api.client.get(f"/workbench/notes/{note['id']}").text
    assert "may read notes but not decide" in page
    assert "/decision" not in page and "add-form" not in page
    sid = note["suggestions"][0]["id"]
    r = api.client.post(
        f"/workbench/suggestions/{sid}/decision", data={"action": "accept", "csrf_token": csrf}
    )
    assert r.status_code == 403 and api.counts()["decisions"] == 0


def test_opening_a_note_page_is_an_audited_read(api: Api) -> None:
    note = api.post_note().json()
    sign_in(api.client, api.keys["coder"])
    page = api.client.get(f"/workbench/notes/{note['id']}").text
    assert "read version 1 (html)" in page  # the page's own history shows the read
    events = api.client.get(f"/v1/notes/{note['id']}/audit", headers=api.auth("admin")).json()[
        "events"
    ]
    reads = [e for e in events if e["action"] == "note.read"]
    assert [(e["actor"], e["details"]["route"]) for e in reads] == [
        ("coder-key", "GET /workbench/notes/{note_id}")
    ]


def test_action_errors_are_shown_in_the_page_without_note_text(api: Api) -> None:
    note = api.post_note().json()
    csrf = sign_in(api.client, api.keys["coder"])
    sid = note["suggestions"][0]["id"]
    url = f"/workbench/suggestions/{sid}/decision"
    r = api.client.post(url, data={"action": "reject", "csrf_token": csrf})
    assert r.status_code == 422 and "give a reason" in r.text
    r = api.client.post(url, data={"action": "replace", "code": "NOPE9", "csrf_token": csrf})
    assert r.status_code == 422 and "NOPE9 is not a icd10cm code" in r.text
    r = api.client.post(
        f"/workbench/notes/{note['id']}/codes",
        data={
            "code": "E11.9",
            "system": "icd10cm",
            "start": "0",
            "end": "999999",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 422 and "past the end of the note" in r.text
    assert PHI not in r.text
    assert api.client.get("/workbench/notes/999999").status_code == 404
    assert api.counts()["decisions"] == 0


@pytest.mark.parametrize("role", ["coder", "admin"])
def test_decisions_from_the_page_are_the_apis_decisions(api: Api, role: str) -> None:
    note = api.post_note(note_text("pneumonia and hypertension.")).json()
    csrf = sign_in(api.client, api.keys[role])
    j18, i10 = (s["id"] for s in note["suggestions"][:2])
    r = api.client.post(
        f"/workbench/suggestions/{i10}/decision",
        data={"action": "replace", "code": "I11.9", "reason": "heart", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert f'id="s-{i10}"' in r.text and 'id="audit"' in r.text and 'id="impact"' in r.text
    decision = api.client.get(f"/v1/notes/{note['id']}", headers=api.auth("coder")).json()
    by_id = {s["id"]: s for s in decision["suggestions"]}
    assert by_id[i10]["status"] == "replaced"
    assert by_id[i10]["decision"]["code"] == "I11.9"
    assert by_id[i10]["decision"]["coder"] == f"{role}-key"
    assert by_id[j18]["status"] == "pending"
    # A second decision on it is the API's 409, shown with who decided.
    r = api.client.post(
        f"/workbench/suggestions/{i10}/decision", data={"action": "accept", "csrf_token": csrf}
    )
    assert r.status_code == 409 and f"{role}-key already chose replace I11.9" in r.text
    assert api.counts()["decisions"] == 1
