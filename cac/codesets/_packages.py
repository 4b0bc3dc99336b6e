"""Locate data files inside installed packages without importing them.

Importing ``simple_icd_10_cm`` parses its whole XML at import time; we only need the file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cac.errors import SourceError


def package_dir(name: str) -> Path:
    """The directory of an installed package, found without importing it.

    Raises:
        SourceError: if the package is not installed.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"code-set source package '{name}' is not installed; run 'make setup'")
    return Path(next(iter(spec.submodule_search_locations)))
