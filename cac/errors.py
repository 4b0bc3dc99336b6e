"""The cac exception hierarchy. Messages say what went wrong and how to fix it, never note text."""


class CacError(Exception):
    """Base class of every error cac raises on purpose."""


class ConfigError(CacError):
    """A setting is missing or invalid."""


class SourceError(CacError):
    """A code-set source file is missing, unreadable or malformed. The message names the file."""


class KnowledgeBaseError(CacError):
    """The knowledge base is missing, incomplete or from an incompatible build."""


class UnknownSystemError(CacError):
    """A code system name that cac does not know."""


class UnknownCodeError(CacError):
    """A code that does not exist in the named system."""


class NotFoundError(CacError):
    """A stored object (note, suggestion, API key) that does not exist."""


class ConflictError(CacError):
    """The request conflicts with what is stored (a decision already made, a name in use)."""


class ModelLoadError(CacError):
    """The coding models could not be loaded; the message says why and what keeps serving."""
