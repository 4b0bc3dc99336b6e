"""Helpers shared by the CLI command groups."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from cac.config import get_settings
from cac.errors import CacError

if TYPE_CHECKING:
    from cac.kb.store import KnowledgeBase

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)


def fail_cleanly(func: F) -> F:
    """Decorator for commands: a CacError becomes ``error: ...`` on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CacError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def open_kb() -> KnowledgeBase:
    """The knowledge base under the configured ``CAC_HOME``."""
    from cac.kb.store import KnowledgeBase

    return KnowledgeBase.open(get_settings().kb_dir)
