"""The worklist query (cac/db/worklist.py, which needs notes posted through the API): newest
versions only, oldest first, pages of ``per_page`` with the total."""

from __future__ import annotations

from cac.db.worklist import WorklistFilter, worklist
from tests.api.conftest import Api, note_text


def test_pages_of_the_worklist_cover_every_note_once_oldest_first(api: Api) -> None:
    for n in range(5):
        api.post_note(note_text(f"pneumonia, day {n}."), external_id=f"n{n}")
    with api.db.read() as session:
        pages = [worklist(session, WorklistFilter(page=p, per_page=2)) for p in (1, 2, 3, 9)]
    assert [p.total for p in pages] == [5, 5, 5, 5]
    assert [p.pages for p in pages] == [3, 3, 3, 3]
    assert [[r.external_id for r in p.rows] for p in pages] == [
        ["n0", "n1"],
        ["n2", "n3"],
        ["n4"],
        ["n4"],  # past the end: the last page
    ]
    assert pages[0].rows[0].pending == 1
    assert [c.code for c in pages[0].rows[0].codes] == ["J18.9"]


def test_an_empty_worklist_is_one_empty_page(api: Api) -> None:
    with api.db.read() as session:
        page = worklist(session, WorklistFilter())
    assert (page.rows, page.total, page.page, page.pages) == ((), 0, 1, 1)
