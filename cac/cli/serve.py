"""``cac serve``: the REST service (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from cac.cli.common import fail_cleanly


@fail_cleanly
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = "info",
) -> None:
    """Serve the REST API (docs at /docs). Applies database migrations, then loads the models
    in the background: /healthz answers at once, /readyz once the models are in."""
    import uvicorn

    from cac.api import logs
    from cac.api.app import create_app

    logs.configure(log_level)
    app = create_app()
    # uvicorn's access log would print raw paths and query strings; the app logs its own.
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, log_level=log_level)
