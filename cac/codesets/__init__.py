"""Code-set loaders, one module per system, each yielding :class:`CodeRecord`."""

from cac.codesets.records import CodeRecord, SourceInfo, System, display_code, normalize_code

__all__ = ["CodeRecord", "SourceInfo", "System", "display_code", "normalize_code"]
