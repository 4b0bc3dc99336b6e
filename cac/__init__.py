"""cac: computer-assisted coding of clinical notes."""

__version__ = "0.1.0"
