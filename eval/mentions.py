"""Mention evaluation: the coder's DIAGNOSIS / PROCEDURE spans against brat or PubTator gold.

Three sources of predicted spans can be scored on the same documents:

- ``combined``: the mentions :meth:`cac.Coder.code` returns (tagger + phrase matcher);
- ``tagger``: the fine-tuned MiniLM token classifier alone;
- ``phrases``: the lexicon phrase matcher alone (with defined abbreviations).

Gold is read from the documents only when scoring; prediction sees the text alone. On corpora
annotated for diseases only (BC5CDR), only the DIAGNOSIS label is scored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import track

from cac.errors import CacError
from cac.pipeline import Coder
from eval.brat import BratDoc, Span, dev_slice, longest_first, read_dir, score
from eval.pubtator import bc5cdr

SOURCES = ("combined", "tagger", "phrases")
Predictor = Callable[[str], list[Span]]


def predictor(coder: Coder, source: str) -> Predictor:
    """A function from note text to predicted spans for one source.

    Raises:
        CacError: for an unknown source, or ``tagger`` when no tagger is trained.
    """
    if source == "combined":
        return lambda text: [(m.start, m.end, m.label) for m in coder.code(text).mentions]
    if source == "tagger":
        if coder.tagger is None:
            raise CacError("no mention tagger is trained; run 'make models'")
        return coder.tagged_spans
    if source == "phrases":
        phrase_only = Coder(coder.kb, coder.lexicon, coder.annotator, tagger=None)
        return lambda text: [(m.start, m.end, m.label) for m in phrase_only.code(text).mentions]
    raise CacError(f"unknown mention source {source!r}; use one of {', '.join(SOURCES)}")


def evaluate_docs(
    docs: list[BratDoc], predict: Predictor, labels: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Exact and overlap P/R/F1 of ``predict`` on ``docs``; only ``labels`` when given."""
    pairs = []
    console = Console(stderr=True)
    for doc in track(docs, "mentions", console=console, transient=True):
        predicted = longest_first(predict(doc.text))
        gold = doc.spans
        if labels is not None:
            predicted = [p for p in predicted if p[2] in labels]
            gold = [g for g in gold if g[2] in labels]
        pairs.append((predicted, gold))
    report = score(pairs)
    if labels is not None:
        report = {mode: {k: v for k, v in by.items() if k in labels} for mode, by in report.items()}
    return {"docs": len(docs), **report}


def corpus_docs(corpus: str, directory: Path | None, all_docs: bool) -> list[BratDoc]:
    """The documents to score: MACCROBAT (cac's dev slice unless ``all_docs``), a brat folder,
    or a BC5CDR split (``bc5cdr-test``, ``bc5cdr-dev``)."""
    if corpus == "maccrobat":
        from eval.brat import DEFAULT_DIR

        docs = read_dir(directory or DEFAULT_DIR)
        return docs if all_docs or directory is not None else dev_slice(docs)
    if corpus.startswith("bc5cdr-"):
        return bc5cdr(corpus.removeprefix("bc5cdr-"))
    raise CacError(f"unknown corpus {corpus!r}; use maccrobat, bc5cdr-test or bc5cdr-dev")


def labels_of(corpus: str) -> tuple[str, ...] | None:
    """The labels a corpus annotates (None: both)."""
    return ("DIAGNOSIS",) if corpus.startswith("bc5cdr") else None
