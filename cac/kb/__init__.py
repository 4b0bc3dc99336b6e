"""The compiled code knowledge base: build, manifest and read access."""

from cac.kb.paths import KBPaths
from cac.kb.store import KnowledgeBase

__all__ = ["KBPaths", "KnowledgeBase"]
