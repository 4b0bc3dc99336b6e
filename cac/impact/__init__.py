"""What a code list is worth: principal diagnosis, MS-DRG with CC/MCC, CMS-HCC with RAF, and
documentation-improvement prompts (:class:`ImpactEngine`)."""

from cac.impact.engine import ImpactEngine, shared_engine
from cac.impact.records import Impact, ImpactRequest

__all__ = ["Impact", "ImpactEngine", "ImpactRequest", "shared_engine"]
