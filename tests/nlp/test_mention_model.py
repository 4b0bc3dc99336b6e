"""The mention tagger's plumbing, on a tiny randomly initialised BERT built from a config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from cac.nlp.mention_model import TAGS, MentionModel, decode, join_fragments, windows
from eval.brat import BratDoc
from training.mention_model import encode, train

LABELS = dict(enumerate(TAGS))


def _row(
    o: float, bd: float = 0.0, id_: float = 0.0, bp: float = 0.0, ip: float = 0.0
) -> list[float]:
    return [o, bd, id_, bp, ip]


def test_decode_runs_inside_pieces_and_labels_them_by_mass() -> None:
    offsets = [(0, 0), (0, 5), (6, 10), (11, 14), (15, 20), (21, 25), (0, 0)]
    probs = np.array(
        [
            _row(1.0),
            _row(0.1, bd=0.8, id_=0.1),  # B-DIAGNOSIS
            _row(0.2, id_=0.3, ip=0.5),  # inside, I- flips to PROCEDURE: same mention
            _row(0.9, bd=0.1),  # outside
            _row(0.4, ip=0.6),  # an I- after O starts a mention
            _row(0.3, bp=0.6, ip=0.1),  # B- outweighs I-: a new mention
            _row(1.0),
        ]
    )
    spans = decode(offsets, probs, LABELS, 100)
    assert [s for s, _ in spans] == [
        (100, 110, "DIAGNOSIS"),
        (115, 120, "PROCEDURE"),
        (121, 125, "PROCEDURE"),
    ]
    assert spans[0][1] == pytest.approx(0.85)


def test_join_fragments_joins_a_split_phrase_only() -> None:
    text = "dilated cardiomyopathy; BUN and creatinine\nedema fever"
    scored = [
        ((0, 7, "DIAGNOSIS"), 0.9),
        ((8, 22, "DIAGNOSIS"), 0.6),
        ((24, 31, "PROCEDURE"), 0.8),  # "BUN and"
        ((32, 42, "PROCEDURE"), 0.8),
        ((43, 48, "DIAGNOSIS"), 0.8),  # after a line break
        ((49, 54, "PROCEDURE"), 0.8),  # another label
    ]
    joined = join_fragments(text, scored)
    assert [s for s, _ in joined] == [
        (0, 22, "DIAGNOSIS"),
        (24, 31, "PROCEDURE"),
        (32, 42, "PROCEDURE"),
        (43, 48, "DIAGNOSIS"),
        (49, 54, "PROCEDURE"),
    ]
    assert joined[0][1] == pytest.approx((0.9 * 7 + 0.6 * 14) / 21)


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
