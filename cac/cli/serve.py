"""``cac serve``: the REST service (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cac.cli.common import fail_cleanly

if TYPE_CHECKING:
    from fastapi import FastAPI


@fail_cleanly
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
) -> None:
    """Serve the REST API (docs at /docs). Applies database migrations, then loads the models
    in the background: /healthz answers at once, /readyz once the models are in. SIGHUP
    (``kill -HUP <pid>``) reloads the models, e.g. after ``cac models promote``."""
    from cac.api import logs
    from cac.api.app import create_app

    logs.configure(log_level)
    run(create_app(), host, port, log_level)


def run(app: FastAPI, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` under uvicorn until SIGINT or SIGTERM, reloading its models on SIGHUP.
    Call from the main thread."""
    import uvicorn

    from cac.api import signals

    restore = signals.reload_on_sighup(app.state.services)
    try:
        # uvicorn's access log would print raw paths and query strings; the app logs its own.
        uvicorn.run(
            app, host=host, port=port, log_config=None, access_log=False, log_level=log_level
        )
    finally:
        restore()
