"""The coder workbench: server-rendered pages under ``/workbench`` in the service's app.

``pages`` has the routes, ``render`` what the templates show, ``session`` the signed session
cookie and CSRF tokens; ``templates/`` and ``static/`` (with htmx vendored under
``static/vendor/``) are package data, so nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cac.api.workbench import pages
from cac.api.workbench.session import Sessions, load_secret
from cac.config import Settings

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    """Add the workbench's routes, static files and session signer to ``app``."""
    app.state.workbench_sessions = Sessions(
        load_secret(settings), int(settings.session_hours * 3600)
    )
    app.include_router(pages.router)
    app.mount("/workbench/static", StaticFiles(directory=STATIC), name="workbench-static")
    app.add_exception_handler(pages.NotSignedIn, pages.not_signed_in)
