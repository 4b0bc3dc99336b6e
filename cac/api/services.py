"""What the routes do, as plain functions over the shared services (run in worker threads)."""

from __future__ import annotations

import logging
import re
import time

from sqlalchemy.exc import IntegrityError

from cac.api import impact
from cac.api.errors import Conflict, InvalidInput, NotFound, NotReady
from cac.api.schemas.codes import CodeBrief, CodeHit, CodeOut
from cac.api.schemas.decisions import AddCodeIn, DecisionIn
from cac.api.schemas.impact import ImpactIn, PrincipalIn
from cac.api.state import NoteCoder, Services
from cac.codesets.records import CodeRecord, System
from cac.db import audit, decisions, notes
from cac.db.decisions import Action, AddedCode, DecisionInput
from cac.db.models import Decision, Note, Suggestion
from cac.errors import UnknownCodeError, UnknownSystemError
from cac.impact import Impact, ImpactEngine
from cac.kb.store import KnowledgeBase
from cac.linking.search import CodeSearcher
from cac.pipeline import CodingInputError

logger = logging.getLogger(__name__)

_CODE_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,11}$")
_NOTE_WRITE_ATTEMPTS = 3


def submit_note(
    services: Services,
    coder: NoteCoder,
    note: notes.NoteInput,
    actor: str,
    request_id: str | None,
) -> tuple[int, bool]:
    """Store and code a note; ``(note id, created)``. The same text again returns the stored
    version (``created`` False); new text under a known external id adds a version."""
    with services.db.read() as session:
        latest = notes.latest_version(session, note.external_id)
        same = latest is not None and latest.text_sha256 == note.content_hash
    if same:
        return _repost(services, note, actor, request_id), False
    start = time.perf_counter()
    try:
        result = coder.code(note.text, note.setting, note.demographics)  # type: ignore[arg-type]
    except CodingInputError as exc:
        raise InvalidInput(str(exc)) from None
    seconds = time.perf_counter() - start
    for _attempt in range(_NOTE_WRITE_ATTEMPTS):
        try:
            with services.db.write() as session:
                latest = notes.latest_version(session, note.external_id)
                if latest is not None and latest.text_sha256 == note.content_hash:
                    notes.record_repost(session, latest, actor, request_id)
                    return latest.id, False  # a concurrent post of the same note won
                row = notes.store_coded_note(session, note, result, actor, request_id)
                note_id = row.id
        except IntegrityError:
            continue  # a concurrent post took this version number; read again
        services.metrics.notes_coded.labels(note.setting, note.source).inc()
        services.metrics.coding_seconds.observe(seconds)
        logger.info(
            "note %d coded: %d suggestions in %.0f ms",
            note_id,
            len(result.suggestions),
            seconds * 1000,
        )
        return note_id, True
    raise Conflict("the note was posted concurrently several times; retry the request")


def _repost(services: Services, note: notes.NoteInput, actor: str, request_id: str | None) -> int:
    with services.db.write() as session:
        latest = notes.latest_version(session, note.external_id)
        assert latest is not None
        notes.record_repost(session, latest, actor, request_id)
        return latest.id


def resolve_code(kb: KnowledgeBase, system_name: str, code: str) -> CodeRecord:
    """A code a coder typed, checked: known system, well-formed, in the KB, billable, active.

    Raises:
        InvalidInput: saying which of these fails and what to do.
    """
    try:
        system = System.parse(system_name)
    except UnknownSystemError as exc:
        raise InvalidInput(str(exc)) from None
    if not _CODE_SHAPE.match(code.strip()):
        raise InvalidInput(
            f"{code[:20]!r} is not a valid {system.value} code: use letters and digits, "
            "with or without the ICD dot (e.g. E11.9)"
        )
    record = kb.get(system, code)
    if record is None:
        raise InvalidInput(
            f"{code.strip().upper()} is not a {system.value} code; look it up with "
            "GET /v1/codes/search"
        )
    if not record.active:
        raise InvalidInput(
            f"{record.display} is a terminated {system.value} code; use a current one"
        )
    if not record.billable:
        raise InvalidInput(
            f"{record.display} is not billable ({record.kind}); choose a billable code below it, "
            f"see GET /v1/codes/{system.value}/{record.display}"
        )
    return record


def decide(
    services: Services,
    kb: KnowledgeBase,
    suggestion_id: int,
    body: DecisionIn,
    coder: str,
    request_id: str | None,
) -> tuple[Decision, Suggestion, Note]:
    """Validate and append a decision.

    Raises:
        NotFoundError, InvalidInput, DecisionConflict / Conflict.
    """
    with services.db.read() as session:
        suggestion = decisions.get_suggestion(session, suggestion_id)
    system = code = None
    if body.action == "replace":
        assert body.code is not None
        record = resolve_code(kb, body.system or suggestion.system, body.code)
        system, code = record.system.value, record.display
        if (system, code) == (suggestion.system, suggestion.code):
            raise InvalidInput(f"the replacement is the suggested code {code}; use accept")
    decision = DecisionInput(
        action=Action(body.action),
        coder=coder,
        system=system,
        code=code,
        reason=body.reason,
        supersede=body.supersede,
    )
    engine = services.impact
    before = after = None
    try:
        with services.db.write() as session:
            note = notes.get_note(session, suggestion.note_id)
            before = impact.note_impact(session, note, engine) if engine else None
            row, updated = decisions.decide(session, suggestion_id, decision, request_id)
            if engine is not None:
                after = impact.record_change(
                    session,
                    note,
                    engine,
                    before,
                    coder,
                    request_id,
                    cause=f"decision.{body.action}",
                    suggestion_id=suggestion_id,
                    decision_id=row.id,
                )
    except IntegrityError:
        raise Conflict(
            f"another decision on suggestion {suggestion_id} was recorded at the same moment; "
            'read it and send "supersede": true to replace it'
        ) from None
    services.metrics.decisions.labels(body.action).inc()
    if engine is not None:
        impact.count_change(services.metrics, before, after)
    logger.info("decision %d (%s) on suggestion %d", row.id, body.action, suggestion_id)
    return row, updated, note


def add_code(
    services: Services,
    kb: KnowledgeBase,
    note_id: int,
    body: AddCodeIn,
    coder: str,
    request_id: str | None,
) -> tuple[Suggestion, Decision, Note]:
    """Validate and add a coder's code to a note.

    Raises:
        NotFoundError, InvalidInput, ConflictError.
    """
    with services.db.read() as session:
        length = len(notes.get_note(session, note_id).text)
    record = resolve_code(kb, body.system, body.code)
    for index, span in enumerate(body.evidence):
        if span.end > length:
            raise InvalidInput(
                f"evidence[{index}] ends at {span.end}, past the end of the note "
                f"({length} characters)"
            )
    added = AddedCode(
        system=record.system.value,
        code=record.display,
        description=record.title,
        evidence=tuple((span.start, span.end) for span in body.evidence),
        demo=record.demo,
    )
    engine = services.impact
    before = after = None
    with services.db.write() as session:
        note = notes.get_note(session, note_id)
        before = impact.note_impact(session, note, engine) if engine else None
        suggestion, decision = decisions.add_code(
            session, note, added, coder, body.reason, request_id
        )
        if engine is not None:
            after = impact.record_change(
                session,
                note,
                engine,
                before,
                coder,
                request_id,
                cause="decision.add",
                suggestion_id=suggestion.id,
                decision_id=decision.id,
            )
    services.metrics.decisions.labels("add").inc()
    if engine is not None:
        impact.count_change(services.metrics, before, after)
    logger.info("code added to note %d as suggestion %d", note_id, suggestion.id)
    return suggestion, decision, note


def search_codes(kb: KnowledgeBase, q: str, system: str | None, limit: int) -> list[CodeHit]:
    """Raises: InvalidInput for an unknown system or an empty query."""
    if not q.strip():
        raise InvalidInput("q is empty; give a few words to search for")
    try:
        parsed = System.parse(system) if system else None
    except UnknownSystemError as exc:
        raise InvalidInput(str(exc)) from None
    return [
        CodeHit(
            system=c.system.value,
            code=c.display,
            title=c.title,
            score=round(c.score, 4),
            billable=c.billable,
            demo=c.demo,
            kind=c.kind,
        )
        for c in CodeSearcher(kb).search(q, parsed, limit)
    ]


def _brief(record: CodeRecord) -> CodeBrief:
    return CodeBrief(
        code=record.display, title=record.title, billable=record.billable, active=record.active
    )


def code_detail(kb: KnowledgeBase, system: str, code: str) -> CodeOut:
    """Raises: InvalidInput for an unknown system, NotFound for an unknown code."""
    try:
        parsed = System.parse(system)
        record = kb.lookup(parsed, code)
    except UnknownSystemError as exc:
        raise InvalidInput(str(exc)) from None
    except UnknownCodeError as exc:
        raise NotFound(f"{exc}; search with GET /v1/codes/search?q=...") from None
    parent = kb.get(parsed, record.parent) if record.parent else None
    return CodeOut(
        system=parsed.value,
        code=record.display,
        title=record.title,
        kind=record.kind,
        billable=record.billable,
        active=record.active,
        demo=record.demo,
        parent=_brief(parent) if parent else None,
        children=[_brief(c) for c in kb.children(parsed, record.code)],
        synonyms=list(record.synonyms),
        excludes1=list(record.excludes1),
        excludes2=list(record.excludes2),
        code_first=list(record.code_first),
        use_additional=list(record.use_additional),
        code_also=list(record.code_also),
        axes=dict(record.axes),
        attributes=dict(record.attributes),
    )


def _engine(services: Services) -> ImpactEngine:
    if services.impact is None:
        raise NotReady("the MS-DRG and CMS-HCC packages did not load; see the service log")
    return services.impact


def what_if(services: Services, kb: KnowledgeBase, body: ImpactIn) -> Impact:
    """``POST /v1/impact``: nothing is read or stored but the knowledge base.

    Raises:
        InvalidInput: a code that is unknown, terminated or not billable.
        NotReady: the impact packages did not load.
    """
    engine = _engine(services)
    return engine.assess(impact.what_if(kb, body))


def set_principal(
    services: Services, note_id: int, body: PrincipalIn, coder: str, request_id: str | None
) -> Note:
    """A coder's principal diagnosis for a note, audited with the impact before and after.

    Raises:
        NotFoundError, InvalidInput (the code is not one of the note's codes in effect).
    """
    engine = _engine(services)
    with services.db.write() as session:
        note = notes.get_note(session, note_id)
        code = impact.check_principal(session, note, body.code)
        before = impact.note_impact(session, note, engine)
        previous = note.principal_code
        note.principal_code = code
        note.principal_set_by = coder
        details: dict[str, object] = {"code": code, "previous": previous}
        if body.reason is not None:
            details["reason"] = body.reason
        audit.append(
            session,
            note.id,
            audit.AuditAction.PRINCIPAL_SET,
            coder,
            details=details,
            request_id=request_id,
        )
        after = impact.record_change(
            session, note, engine, before, coder, request_id, cause="principal.set"
        )
    impact.count_change(services.metrics, before, after)
    logger.info("principal of note %d set by a coder", note_id)
    return note
