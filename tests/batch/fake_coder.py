"""A tiny deterministic coder for batch tests: importable by worker processes and Spark workers.

It suggests ``R69`` for every note and ``J18.9`` at each "pneumonia"; a note with the word
"explode" makes it raise, a note "nothing" gives no suggestions. J18.9 cites the rule that shows
it; R69 (not shown, needs specificity, with alternatives) is kept back by J18.9 when there is
one (``suppressed_by``). ``FAKE_CODER_DELAY`` (seconds per
note) slows it for the interruption test.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cac.codesets.records import System
from cac.coding.records import Evidence, RuleCitation, Suggestion, Suppression
from cac.errors import CacError

SHOWN = (RuleCitation("cut.confidence", "I.A.19", "the note states it"),)
KEPT_BACK = Suppression(
    "specificity.unspecified_beside_specific", "I.A.9.b", "J18.9", "J18.9 says more than R69"
)


# The shape of cac.pipeline's result, without importing the pipeline (seconds per worker process).
@dataclass(frozen=True)
class CodingResult:
    suggestions: list[Suggestion]
    mentions: list[Any]
    model: dict[str, Any] = field(default_factory=dict)


class FakeCoder:
    def __init__(self) -> None:
        self.model = {"fake": "1", "lexicon": "test"}

    def code(self, text: str, setting: str) -> CodingResult:
        delay = float(os.environ.get("FAKE_CODER_DELAY", "0"))
        if delay:
            time.sleep(delay)
        if "\x00" in text:
            raise CacError("the note contains NUL bytes; send plain text")
        if "explode" in text:
            raise RuntimeError(f"boom on {text}")  # the text must not reach any output
        if text.strip() == "nothing":
            return CodingResult([], [], dict(self.model))
        suggestions = []
        start = text.find("pneumonia")
        while start >= 0:
            evidence = (Evidence(start, start + 9, "pneumonia"),)
            suggestions.append(
                Suggestion(
                    System.ICD10CM,
                    "J18.9",
                    "Pneumonia, unspecified organism",
                    0.9,
                    evidence,
                    "present",
                    False,
                    False,
                    True,
                    rationale=SHOWN,
                )
            )
            start = text.find("pneumonia", start + 1)
        confidence = 0.5 if setting == "inpatient" else 0.4
        suggestions.append(
            Suggestion(
                System.ICD10CM,
                "R69",
                "Illness, unspecified",
                confidence,
                (Evidence(0, 1, text[:1], "abbreviation"),),
                "present",
                False,
                True,
                False,
                suppressed_by=KEPT_BACK if suggestions else None,
                alternatives=("R68.89",),
            )
        )
        return CodingResult(suggestions[:2], [], dict(self.model))


def build(home: Path | None) -> FakeCoder:
    return FakeCoder()


FACTORY = "tests.batch.fake_coder:build"


class DyingCoder(FakeCoder):
    """Kills its own process on the note "die", as the kernel's OOM killer would."""

    def code(self, text: str, setting: str) -> CodingResult:
        if text == "die":
            os._exit(137)
        return super().code(text, setting)


def build_dying(home: Path | None) -> DyingCoder:
    return DyingCoder()
