"""The mention tagger's plumbing, on a tiny randomly initialised BERT built from a config."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from cac.nlp.mention_model import TAGS, MentionModel, tags_to_spans, windows
from eval.brat import BratDoc
from training.mention_model import encode, train


def test_tags_to_spans() -> None:
    offsets = [(0, 0), (0, 5), (6, 10), (11, 14), (15, 20), (0, 0)]
    tags = ["O", "B-DIAGNOSIS", "I-DIAGNOSIS", "O", "I-PROCEDURE", "O"]
    assert tags_to_spans(offsets, tags, 100) == [(100, 110, "DIAGNOSIS"), (115, 120, "PROCEDURE")]


def test_windows_cover_the_text_on_line_boundaries(tiny_tagger_base: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tagger_base), local_files_only=True)
    text = "\n".join(f"Line {i} reports fever and cough." for i in range(40))
    parts = windows(text, tokenizer, max_tokens=32)
    assert len(parts) > 1
    assert all(text[w.start : w.end].strip() for w in parts)
    assert parts[0].start == 0 and parts[-1].end == len(text)


def test_encode_labels_gold_spans(tiny_tagger_base: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tagger_base), local_files_only=True)
    text = "She had fever after appendectomy."
    doc = BratDoc("d", text, [(8, 13, "DIAGNOSIS"), (20, 32, "PROCEDURE")])
    (example,) = encode(doc, tokenizer)
    tags = [TAGS[i] for i in example["labels"] if i != -100]
    assert tags[2] == "B-DIAGNOSIS" and "B-PROCEDURE" in tags
    assert tags[0] == "O"


def test_train_save_load_predict(tiny_tagger_base: Path, tmp_path: Path) -> None:
    text = "She had fever after appendectomy.\nNo cough."
    docs = [BratDoc(str(i), text, [(8, 13, "DIAGNOSIS"), (20, 32, "PROCEDURE")]) for i in range(5)]
    figures = train(tmp_path / "model", epochs=1, base=tiny_tagger_base, docs=docs)
    assert figures["windows"] > 0
    spans = MentionModel(tmp_path / "model").predict(text)
    assert all(
        0 <= s < e <= len(text) and label in ("DIAGNOSIS", "PROCEDURE") for s, e, label in spans
    )
    # whole words only: no span starts or ends inside a word
    assert all(not (s > 0 and text[s - 1].isalnum()) for s, _, _ in spans)


def test_partial_label_loss_ignores_procedure_tags_on_disease_only_rows() -> None:
    import torch

    from training.mention_model import PROCEDURE_TAGS, loss_of

    logits = torch.zeros((2, 1, len(TAGS)))
    logits[:, 0, PROCEDURE_TAGS[0]] = 5.0  # the model is sure the token starts a procedure
    labels = torch.tensor([[0], [0]])  # gold says "O"
    full = loss_of(logits[:1], labels[:1], torch.tensor([False]))
    partial = loss_of(logits[1:], labels[1:], torch.tensor([True]))
    # a fully annotated row punishes the procedure guess; a disease-only row does not
    assert full.item() > 4.0
    assert partial.item() == pytest.approx(torch.log(torch.tensor(3.0)).item(), abs=1e-4)
