"""cac: computer-assisted coding of clinical notes.

``cac.Coder`` is the one entry point from note text to suggestions; it is imported lazily so that
``import cac`` (and the CLI) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Coder", "__version__"]

if TYPE_CHECKING:
    from cac.pipeline import Coder


def __getattr__(name: str) -> Any:
    if name == "Coder":
        from cac.pipeline import Coder

        return Coder
    raise AttributeError(f"module 'cac' has no attribute {name!r}")
