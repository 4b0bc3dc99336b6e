"""Build the phrase lexicon (``models/lexicon.json.gz``) from the knowledge base and CodiEsp train.

Run: ``python -m training.lexicon`` (``make lexicon``). Reads only the *train* split; dev is for
measurement. Steps:

1. Knowledge-base phrases: short ICD-10-CM titles and inclusion terms (also without a trailing
   "unspecified" / "NOS"), ICD-10-PCS index terms and short partial-code titles, CPT synonyms;
   and the curated clinical abbreviations (``cac/nlp/data/abbreviations.tsv``), which inherit the
   codes of their expansion.
2. Train alignment: for every train document and gold code, the document n-gram closest to one of
   the code's names (rapidfuzz token-sort ratio >= ``ALIGN_CUTOFF``) becomes a phrase for it; and
   every CodiEsp-X gold mention of the document, aligned from the Spanish original to its English
   translation (``training/crosslingual.py``: "dolor abdominal" -> "abdominal pain"), does too.
   Phrases that are assertion cues (ConText triggers such as "no evidence", "mother") or stop
   words are dropped: they modify mentions and must not become mentions themselves.
3. Precision: each phrase -> code pair is scored on train as (hits + PRIOR_WEIGHT * PRIOR) /
   (documents containing the phrase + PRIOR_WEIGHT), where hits are documents whose gold holds the
   code (compared in the benchmark's convention via ``eval.crosswalk``).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

from rapidfuzz import fuzz, process
from rich.console import Console
from rich.progress import track

from cac.codesets.records import CodeRecord, System
from cac.coding.lexicon import MAX_PHRASE_TOKENS, Lexicon, LexiconEntry
from cac.config import get_settings
from cac.kb.store import KnowledgeBase
from cac.nlp.abbreviations import load_abbreviations
from cac.nlp.context import build_nlp, modifier_phrases
from cac.nlp.tokens import normalize_phrase, tokenize
from eval.codiesp import DEFAULT_DIR, CodiEspSplit, load_split
from eval.crosswalk import Crosswalk
from training.crosslingual import aligned_mentions, read_mentions

OUT = Path(__file__).parent.parent / "models" / "lexicon.json.gz"
KB_MAX_TOKENS = 6
ALIGN_MAX_TOKENS = 6
ALIGN_CUTOFF = 80.0
PRIOR = 0.3
PRIOR_WEIGHT = 1.0
MIN_PRECISION = 0.02
COOC_MAX_TOKENS = 3
COOC_MIN_DOCS = 2
COOC_MIN_PRECISION = 0.25
_TRAILING = {"unspecified", "nos", "site"}
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_STOP = {
    "of",
    "the",
    "a",
    "an",
    "and",
    "or",
    "with",
    "in",
    "on",
    "to",
    "for",
    "by",
    "at",
    "was",
    "is",
}
console = Console()

Pair = tuple[System, str]


def _variants(name: str) -> list[str]:
    """The name, without parenthesised parts, and without "unspecified"/"NOS"/"site" padding."""
    out: list[str] = []
    for form in (name, _PARENS.sub(" ", name)):
        tokens = list(normalize_phrase(form))
        out.append(" ".join(tokens))
        while tokens and tokens[0] in _TRAILING:
            tokens.pop(0)
        while tokens and tokens[-1] in _TRAILING | {"of"}:
            tokens.pop()
        out.append(" ".join(tokens))
    return list(dict.fromkeys(v for v in out if v))


def kb_phrases(kb: KnowledgeBase) -> dict[str, set[Pair]]:
    """Short names from the knowledge base, per phrase."""
    phrases: dict[str, set[Pair]] = defaultdict(set)
    for record in kb.records():
        if record.system is System.HCPCS or not record.active:
            continue
        system = record.system
        names = _names(record)
        for name in names:
            for variant in _variants(name):
                if variant.count(" ") < KB_MAX_TOKENS:
                    phrases[variant].add((system, record.code))
    return phrases


def _names(record: CodeRecord) -> list[str]:
    if record.system is System.ICD10CM and record.kind in ("category", "code"):
        return [record.title, *record.synonyms]
    if record.system is System.ICD10PCS and record.kind in ("body_part", "code"):
        return [*record.synonyms] + ([record.title] if record.kind == "body_part" else [])
    if record.system is System.CPT and record.kind == "code":
        return [*record.synonyms]
    return []


def to_product(kb: KnowledgeBase, system: System, gold: str) -> str | None:
    """A benchmark gold code as the product would emit it (billable where one is implied)."""
    record = kb.get(system, gold)
    if record is None and system is System.ICD10CM:
        record = kb.get(system, gold.replace(".", "") + "a")
    if record is None:
        return None
    if system is System.ICD10PCS or record.billable:
        return record.code
    initial = kb.get(system, record.code.ljust(6, "X") + "A")
    if initial is not None and initial.billable:
        return initial.code
    below = kb.billable_descendants(system, record.code, limit=1)
    return below[0].code if below else record.code


def _ngrams(text: str, max_tokens: int = 6) -> list[str]:
    grams: set[str] = set()
    for line in text.splitlines():
        words = [t.norm for t in tokenize(line)]
        for i in range(len(words)):
            if words[i] in _STOP:
                continue
            for j in range(i + 1, min(len(words), i + max_tokens) + 1):
                if words[j - 1] not in _STOP:
                    grams.add(" ".join(words[i:j]))
    return sorted(grams)


def aligned_phrases(kb: KnowledgeBase, train: CodiEspSplit) -> dict[str, set[Pair]]:
    """Phrases of train documents aligned to their gold codes: by the codes' names, and by the
    documents' CodiEsp-X mentions (those of the vendored train split)."""
    phrases: dict[str, set[Pair]] = defaultdict(set)
    mentions = read_mentions(DEFAULT_DIR, "train", train.texts)
    for (system, gold), found in aligned_mentions(mentions, train.texts).items():
        code = to_product(kb, system, gold)
        if code is not None:
            for phrase in found:
                phrases[phrase].add((system, code))
    for doc, text in track(sorted(train.texts.items()), "aligning train", console=console):
        grams = _ngrams(text, ALIGN_MAX_TOKENS)
        if not grams:
            continue
        golds = [(System.ICD10CM, c) for c in train.gold_d.get(doc, [])]
        golds += [(System.ICD10PCS, c) for c in train.gold_p.get(doc, [])]
        for system, gold in golds:
            code = to_product(kb, system, gold)
            node = kb.get(system, gold) or (kb.get(system, code) if code else None)
            if code is None or node is None:
                continue
            names = [n for n in _names(node) or [node.title]]
            names += [c.title for c in kb.children(system, node.code)[:20]]
            best: tuple[str, float] | None = None
            for name in names:
                query = " ".join(normalize_phrase(name))
                hit = process.extractOne(
                    query, grams, scorer=fuzz.token_sort_ratio, score_cutoff=ALIGN_CUTOFF
                )
                if hit and (best is None or hit[1] > best[1]):
                    best = (hit[0], hit[1])
            if best:
                phrases[best[0]].add((system, code))
    return phrases


def cooccurrence_phrases(kb: KnowledgeBase, train: CodiEspSplit) -> dict[str, set[Pair]]:
    """Short train n-grams co-occurring with a gold code in ``COOC_MIN_DOCS``+ documents."""
    product: dict[tuple[System, str], str | None] = {}
    counts: dict[tuple[str, Pair], int] = defaultdict(int)
    for doc, text in track(sorted(train.texts.items()), "co-occurrence", console=console):
        grams = [g for g in _ngrams(text, COOC_MAX_TOKENS) if not g.isdigit() and len(g) > 2]
        golds = [(System.ICD10CM, c) for c in train.gold_d.get(doc, [])]
        golds += [(System.ICD10PCS, c) for c in train.gold_p.get(doc, [])]
        codes = set()
        for system, gold in golds:
            if (system, gold) not in product:
                product[(system, gold)] = to_product(kb, system, gold)
            code = product[(system, gold)]
            if code is not None:
                codes.add((system, code))
        for gram in grams:
            for pair in codes:
                counts[(gram, pair)] += 1
    phrases: dict[str, set[Pair]] = defaultdict(set)
    for (gram, pair), n in counts.items():
        if n >= COOC_MIN_DOCS:
            phrases[gram].add(pair)
    return phrases


def estimate_precision(
    candidates: dict[str, set[Pair]],
    candidates_kb: dict[str, set[Pair]],
    aligned: dict[str, set[Pair]],
    cooc: dict[str, set[Pair]],
    train: CodiEspSplit,
    crosswalk: Crosswalk,
) -> dict[str, tuple[LexiconEntry, ...]]:
    """Score every phrase -> code pair on train documents."""
    probe = Lexicon({p: (LexiconEntry(System.ICD10CM, "", 0.0, ""),) for p in candidates}, {})
    seen: dict[str, int] = defaultdict(int)
    hits: dict[tuple[str, Pair], int] = defaultdict(int)
    bench_form: dict[Pair, str] = {}
    for doc, text in track(sorted(train.texts.items()), "scoring phrases", console=console):
        gold = set(train.gold_d.get(doc, [])) | set(train.gold_p.get(doc, []))
        found = {m.phrase for m in probe.find(tokenize(text), text)}
        for phrase in found:
            seen[phrase] += 1
            for system, code in candidates[phrase]:
                if (system, code) not in bench_form:
                    mapped = crosswalk.d(code) if system is System.ICD10CM else crosswalk.p(code)
                    bench_form[(system, code)] = mapped
                if bench_form[(system, code)] in gold:
                    hits[(phrase, (system, code))] += 1
    out: dict[str, tuple[LexiconEntry, ...]] = {}
    for phrase, pairs in candidates.items():
        entries = []
        for pair in sorted(pairs, key=lambda p: (p[0].value, p[1])):
            n = seen.get(phrase, 0)
            k = hits.get((phrase, pair), 0)
            precision = (k + PRIOR_WEIGHT * PRIOR) / (n + PRIOR_WEIGHT)
            if pair in aligned.get(phrase, ()):
                source = "train"
            elif pair in candidates_kb.get(phrase, ()):
                source = "kb"
            else:
                # Co-occurrence alone. Leave-one-out: a pair found in exactly COOC_MIN_DOCS
                # documents is not found without each of them, so it scores 0 out of sample.
                source = "cooc"
                precision = k / (n + 1) if k > COOC_MIN_DOCS else 0.0
            floor = COOC_MIN_PRECISION if source == "cooc" else MIN_PRECISION
            if precision >= floor:
                entries.append(LexiconEntry(pair[0], pair[1], precision, source))
        if entries:
            out[phrase] = tuple(entries)
    return out


def build_lexicon(
    kb: KnowledgeBase,
    train: CodiEspSplit,
    crosswalk: Crosswalk,
    kb_candidates: dict[str, set[Pair]] | None = None,
    cues: set[str] | None = None,
) -> Lexicon:
    """The lexicon learned from ``train`` (all of CodiEsp train, or a fold of it).

    ``kb_candidates`` (:func:`kb_phrases`) and ``cues`` (ConText trigger phrases) depend only on
    the knowledge base and rules; pass them in when building several lexicons. The CodiEsp-X
    mentions aligned are those of ``train``'s documents only.
    """
    candidates_kb = {p: set(c) for p, c in (kb_candidates or kb_phrases(kb)).items()}
    candidates = {p: set(c) for p, c in candidates_kb.items()}
    console.print(f"{len(candidates):,} phrases from the knowledge base")
    aligned = aligned_phrases(kb, train)
    console.print(f"{len(aligned):,} phrases aligned on train")
    cooc = cooccurrence_phrases(kb, train)
    console.print(f"{len(cooc):,} phrases co-occurring with gold codes on train")
    for extra in (aligned, cooc):
        for phrase, pairs in extra.items():
            candidates.setdefault(phrase, set()).update(pairs)
    for abbreviation, expansion in load_abbreviations().items():
        pairs = candidates_kb.get(expansion, set()) | aligned.get(expansion, set())
        if pairs:
            candidates.setdefault(abbreviation, set()).update(pairs)
            candidates_kb.setdefault(abbreviation, set()).update(pairs)
    cues = cues if cues is not None else modifier_phrases(build_nlp())
    candidates = {
        p: c
        for p, c in candidates.items()
        if p.count(" ") < MAX_PHRASE_TOKENS and p not in cues and p not in _STOP
    }
    phrases = estimate_precision(candidates, candidates_kb, aligned, cooc, train, crosswalk)
    digest = hashlib.sha256()
    for doc in sorted(train.texts):
        digest.update(train.texts[doc].encode())
        digest.update(" ".join(train.gold_d.get(doc, []) + train.gold_p.get(doc, [])).encode())
    content = hashlib.sha256()
    for phrase, entries in sorted(phrases.items()):
        content.update(phrase.encode())
        for e in entries:
            content.update(f"|{e.system.value} {e.code} {e.precision:.4f} {e.source}".encode())
    meta = {
        "train_docs": len(train.texts),
        "train_hash": digest.hexdigest(),
        "content_hash": content.hexdigest(),
        "kb_content_hash": kb.manifest.content_hash,
        "phrases": len(phrases),
        "aligned_phrases": len(aligned),
        "cooccurrence_phrases": len(cooc),
        "params": {
            "align_cutoff": ALIGN_CUTOFF,
            "prior": PRIOR,
            "prior_weight": PRIOR_WEIGHT,
            "min_precision": MIN_PRECISION,
        },
    }
    return Lexicon(phrases, meta)


def main() -> None:
    kb = KnowledgeBase.open(get_settings().kb_dir)
    train = load_split(DEFAULT_DIR, "train")
    crosswalk = Crosswalk(kb, [c for codes in train.gold_d.values() for c in codes])
    lexicon = build_lexicon(kb, train, crosswalk)
    lexicon.save(OUT)
    console.print(f"wrote {len(lexicon):,} phrases to {OUT}")


if __name__ == "__main__":
    main()
