"""What the app holds for its lifetime: database, knowledge base, coder, metrics."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cac.api.errors import log_unexpected
from cac.api.metrics import Metrics
from cac.db.engine import Database
from cac.errors import CacError, ConflictError, ModelLoadError
from cac.impact import ImpactEngine, shared_engine
from cac.kb.store import KnowledgeBase
from cac.pipeline import CodingResult, Demographics, Setting

logger = logging.getLogger(__name__)


class NoteCoder(Protocol):
    """What the service needs from :class:`cac.pipeline.Coder`."""

    def code(
        self,
        text: str,
        setting: Setting = "inpatient",
        demographics: Demographics | None = None,
    ) -> CodingResult: ...


class ReloadInProgressError(ConflictError):
    """The models are being loaded already (at start-up or by another reload)."""


@dataclass(frozen=True)
class ModelReload:
    """One reload that went through: the models before and after, and the time loading took."""

    previous: dict[str, Any]
    current: dict[str, Any]
    seconds: float
    finished_at: datetime


def model_info(coder: NoteCoder | None) -> dict[str, Any]:
    """The versions a coder reports (``Coder.model_info``); empty for none."""
    info = getattr(coder, "model_info", None)
    return dict(info) if isinstance(info, dict) else {}


@dataclass
class Services:
    """Shared by every request. ``coder`` and ``kb`` are None until loaded (see /readyz).

    Routes take ``coder`` once per request, so swapping it (:meth:`reload`) is one attribute
    assignment: requests in flight finish on the coder they took, later ones get the new one.
    """

    db: Database
    metrics: Metrics
    coder: NoteCoder | None = None
    kb: KnowledgeBase | None = None
    # The grouper and HCC models (cac.impact), loaded at start-up; None if they failed to load,
    # and then notes carry no impact and POST /v1/impact answers 503.
    impact: ImpactEngine | None = None
    load_error: str | None = None
    load_coder: Callable[[], NoteCoder] | None = None
    last_reload: ModelReload | None = None
    _loader: threading.Thread | None = field(default=None, repr=False)
    # Held while models load (start-up or reload), so two loads never race to set ``coder``.
    _loading: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def load_in_background(
        self, load_coder: Callable[[], NoteCoder], open_kb: Callable[[], KnowledgeBase]
    ) -> None:
        """Load the models without blocking start-up, so /healthz answers meanwhile."""

        def run() -> None:
            start = time.perf_counter()
            with self._loading:
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

    def load_impact(self) -> None:
        """Load the grouper and HCC packages' tables once, before the first request."""
        try:
            self.impact = shared_engine()
        except CacError as exc:
            logger.error("impact packages failed to load: %s", exc)

    def wait_loaded(self, timeout: float | None = None) -> None:
        if self._loader is not None:
            self._loader.join(timeout)

    def reload(self, load_coder: Callable[[], NoteCoder] | None = None) -> ModelReload:
        """Load the models again beside the serving ones (with ``Coder.load`` that is the
        registry's ``champion`` as it is now) and swap them in once they are loaded. Blocks for
        the load; call it from a worker thread. Also recovers a service whose first load failed.

        Args:
            load_coder: Defaults to the loader the app started with (``load_coder``).

        Raises:
            ReloadInProgressError: another load or reload is running.
            ModelLoadError: the new models failed to load; the serving ones stay in place.
        """
        if not self._loading.acquire(blocking=False):
            self.metrics.model_reloads.labels("busy").inc()
            raise ReloadInProgressError(
                "the models are being loaded already (start-up or another reload); wait for that "
                "to finish, then reload again if needed"
            )
        try:
            return self._reload(load_coder or self.load_coder)
        finally:
            self._loading.release()

    def _reload(self, load_coder: Callable[[], NoteCoder] | None) -> ModelReload:
        previous = self.coder
        before = model_info(previous)
        logger.info("reloading the models")
        start = time.perf_counter()
        try:
            if load_coder is None:
                raise ModelLoadError("this service was started without a model loader")
            coder = load_coder()
        except Exception as exc:  # any failure to load must leave the serving models in place
            raise self._reload_failed(exc, previous is not None) from None
        old_kb = getattr(previous, "kb", None)
        new_kb = getattr(coder, "kb", None)
        if isinstance(new_kb, KnowledgeBase) and (self.kb is None or self.kb is old_kb):
            self.kb = new_kb  # the code routes then validate against the knowledge base coding uses
        self.coder = coder
        # The old coder (and its knowledge base's read-only connection) is freed with the last
        # request that holds it; closing it here could break one of those.
        self.load_error = None
        seconds = time.perf_counter() - start
        after = model_info(coder)
        self.last_reload = ModelReload(before, after, seconds, datetime.now(UTC))
        self.metrics.model_reloads.labels("success").inc()
        logger.info("models reloaded in %.1f s: %s", seconds, _changes(before, after))
        return self.last_reload

    def _reload_failed(self, exc: Exception, serving: bool) -> ModelLoadError:
        self.metrics.model_reloads.labels("failure").inc()
        if isinstance(exc, CacError):
            reason = str(exc)  # cac's messages never carry note text
        else:
            log_unexpected(exc)
            reason = f"{type(exc).__name__} while loading the models"
        if not serving:
            self.load_error = reason
        keeps = "the previous models keep serving" if serving else "no models are serving"
        logger.error("model reload failed (%s); %s", reason, keeps)
        return ModelLoadError(f"the new models failed to load ({reason}); {keeps}")


def _changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    """``ranker_source: registry: cac-ranker v1 -> registry: cac-ranker v2; ...``"""
    changed = [
        f"{key}: {before.get(key, 'none')} -> {after.get(key, 'none')}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]
    return "; ".join(changed) or "same versions as before"
