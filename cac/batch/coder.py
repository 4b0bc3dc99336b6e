"""Which coder a batch worker builds, and the one instance each worker process keeps."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cac.errors import ConfigError

if TYPE_CHECKING:
    from cac.pipeline import CodingResult, Setting

DEFAULT_FACTORY = "cac.batch.coder:load_pipeline"


class NoteCoder(Protocol):
    """What a batch engine needs from a coder: :meth:`cac.Coder.code`."""

    def code(self, text: str, setting: Setting) -> CodingResult: ...


@dataclass(frozen=True)
class CoderSpec:
    """A picklable recipe for a coder, sent to worker processes and Spark executors.

    Attributes:
        factory: ``module:function`` that takes ``home`` and returns a coder. The default loads
            :class:`cac.Coder`; tests name a small fake.
        home: ``CAC_HOME`` on the worker (where the knowledge base is); None reads the worker's
            own settings.
    """

    factory: str = DEFAULT_FACTORY
    home: str | None = None


def load_pipeline(home: Path | None) -> NoteCoder:
    """The real pipeline: :meth:`cac.Coder.load` with the knowledge base under ``home``."""
    from cac.config import Settings
    from cac.pipeline import Coder

    kb_dir = Settings(home=home).kb_dir if home is not None else None
    return Coder.load(kb_dir=kb_dir)


def build_coder(spec: CoderSpec) -> NoteCoder:
    """Import the spec's factory and call it.

    Raises:
        ConfigError: if the factory cannot be imported or is not callable.
    """
    module_name, _, attr = spec.factory.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"cannot import the coder factory {spec.factory!r} (expected 'module:function' on "
            f"the workers' Python path): {exc}"
        ) from None
    if not callable(factory):
        raise ConfigError(f"the coder factory {spec.factory!r} is not callable")
    coder: NoteCoder = factory(Path(spec.home) if spec.home is not None else None)
    return coder


_CACHE: dict[CoderSpec, NoteCoder] = {}


def cached_coder(spec: CoderSpec) -> NoteCoder:
    """The coder of this process for ``spec``, built on first use (once per worker process)."""
    if spec not in _CACHE:
        _CACHE[spec] = build_coder(spec)
    return _CACHE[spec]
