"""``kill -HUP <pid>`` on ``cac serve`` reloads the models, as ``POST /v1/admin/reload`` does."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from cac.api.state import Services
from cac.errors import CacError

logger = logging.getLogger(__name__)


def reload_on_sighup(services: Services) -> Callable[[], None]:
    """Install a SIGHUP handler that reloads ``services``' models in a background thread.

    Call it from the main thread (Python's rule for signal handlers). uvicorn's server takes
    only SIGINT and SIGTERM, so SIGHUP is free; its multi-worker supervisor, which ``cac serve``
    does not use, would claim it. Does nothing on platforms without SIGHUP (Windows).

    Returns:
        A function that puts the previous handler back.
    """
    if not hasattr(signal, "SIGHUP"):
        return lambda: None

    def handle(signum: int, frame: object) -> None:
        # Handlers run on the main thread between bytecodes: start the load and return.
        logger.info("SIGHUP: reloading the models")
        threading.Thread(
            target=_reload, args=(services,), name="cac-model-reload", daemon=True
        ).start()

    previous = signal.signal(signal.SIGHUP, handle)

    def restore() -> None:
        signal.signal(signal.SIGHUP, previous if previous is not None else signal.SIG_DFL)

    return restore


def _reload(services: Services) -> None:
    try:
        services.reload()
    except CacError as exc:  # busy, or the load failed: the serving models stay
        logger.warning("reload on SIGHUP not done: %s", exc)
