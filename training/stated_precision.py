"""How often a code whose title a note states is right: the confidence a short note's stated
codes get (``cac.coding.cut.STATED_CONFIDENCE``).

Run: ``python -m training.stated_precision [--docs N]``. Reads CodiEsp **train** only. For every
ICD-10-CM candidate of a train note with a present (or possible) lexicon or abbreviation support
whose title, or an inclusion term, the note states in one sentence (:mod:`cac.coding.statements`),
counts whether the code (in the benchmark's convention) is in the note's gold. The ranker was
trained on these long reports; a one-line note gives it little to go on, so the cut falls back
on this measured precision of a stated title. Writes ``models/stated_precision.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import track

from cac.codesets.records import System
from cac.coding.statements import NoteStatements, record_requirements
from cac.pipeline import Coder
from eval.codiesp import DEFAULT_DIR, load_split
from eval.crosswalk import Crosswalk

OUT = Path(__file__).parent.parent / "models" / "stated_precision.json"
STATED_SOURCES = frozenset({"kb", "train"})
console = Console()


def measure(docs: int) -> dict[str, float | int]:
    train = load_split(DEFAULT_DIR, "train")
    coder = Coder.load()
    crosswalk = Crosswalk(coder.kb, [c for codes in train.gold_d.values() for c in codes])
    stated = right = 0
    for doc_id in track(sorted(train.texts)[:docs], "train notes", console=console):
        text = train.texts[doc_id]
        gold = {c.lower() for c in train.gold_d.get(doc_id, [])}
        note = NoteStatements(text)
        analysis = coder.analyse(text)
        for (system, code), candidate in analysis.candidates.items():
            if system is not System.ICD10CM:
                continue
            if not candidate.assertions & {"present", "possible"}:
                continue
            if not any(s.source in STATED_SOURCES for s in candidate.supports):
                continue
            record = coder.kb.get(system, code)
            if record is None or not record.billable:
                continue
            if note.states(record_requirements(record)) is None:
                continue
            stated += 1
            right += crosswalk.d(record.code) in gold
    return {"docs": docs, "stated": stated, "right": right, "precision": right / max(stated, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=500, help="train notes to read")
    args = parser.parse_args()
    report = measure(args.docs)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(report)


if __name__ == "__main__":
    main()
