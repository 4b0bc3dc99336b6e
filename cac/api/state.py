"""What the app holds for its lifetime: database, knowledge base, coder, metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cac.api.metrics import Metrics
from cac.db.engine import Database
from cac.errors import CacError
from cac.kb.store import KnowledgeBase
from cac.pipeline import CodingResult, Setting

logger = logging.getLogger(__name__)


class NoteCoder(Protocol):
    """What the service needs from :class:`cac.pipeline.Coder`."""

    def code(self, text: str, setting: Setting = "inpatient") -> CodingResult: ...


@dataclass
class Services:
    """Shared by every request. ``coder`` and ``kb`` are None until loaded (see /readyz)."""

    db: Database
    metrics: Metrics
    coder: NoteCoder | None = None
    kb: KnowledgeBase | None = None
    load_error: str | None = None
    _loader: threading.Thread | None = field(default=None, repr=False)

    def load_in_background(
        self, load_coder: Callable[[], NoteCoder], open_kb: Callable[[], KnowledgeBase]
    ) -> None:
        """Load the models without blocking start-up, so /healthz answers meanwhile."""

        def run() -> None:
            start = time.perf_counter()
            try:
                coder = load_coder()
                if self.kb is None:
                    kb = getattr(coder, "kb", None)
                    self.kb = kb if isinstance(kb, KnowledgeBase) else open_kb()
                self.coder = coder
                logger.info("models loaded in %.1f s", time.perf_counter() - start)
            except CacError as exc:
                self.load_error = str(exc)
                logger.error("models failed to load: %s", exc)
            except Exception as exc:  # a broken model file must show in /readyz, not kill serve
                self.load_error = f"{type(exc).__name__} while loading the models"
                logger.error("models failed to load: %s", type(exc).__name__)

        self._loader = threading.Thread(target=run, name="cac-model-loader", daemon=True)
        self._loader.start()

    def wait_loaded(self, timeout: float | None = None) -> None:
        if self._loader is not None:
            self._loader.join(timeout)
