"""English phrases for CodiEsp-X mentions: align each Spanish gold span to its translation.

CodiEsp-X (``trainX.tsv``) says where in the Spanish original every gold code is mentioned
("dolor abdominal" -> r10.9 at characters 512-527); the English notes are a machine translation
with no offsets. :func:`aligned_mentions` finds, for each such mention, the English n-gram that
translates it, in three steps:

1. **Where**: the mention's relative position in the Spanish note, mapped onto the English one,
   give a window of the English text (``WINDOW_SHARE`` of the note each side, at least
   ``WINDOW_MIN_CHARS``).
2. **Word translations** (:func:`translation_table`): a Spanish word of the mentions and an
   English word of their windows are associated when the English word is in the window of the
   word's mentions far more often than in windows at large (count times log-lift, over the
   mentions of the split given; "dolor" -> "pain", "fiebre" -> "fever"). A Spanish word translates
   to its best associate only.
3. **Which n-gram**: of the window's n-grams (up to ``MAX_TOKENS`` words), the one whose words
   cover most of the mention's words, each matched by translation or as a cognate (rapidfuzz
   ratio >= ``COGNATE_RATIO``: "paraparesia" ~ "paraparesis"), less a penalty for its words that
   match nothing. Alignments that cover under ``MIN_SCORE`` are dropped.

Only the split it is given is read (in training: all of CodiEsp train, or the folds of it that
a lexicon is learned from), so no fold sees another's mentions.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from cac.codesets.records import System
from cac.errors import CacError
from cac.nlp.tokens import tokenize

MAX_TOKENS = 6
WINDOW_SHARE = 0.06
WINDOW_MIN_CHARS = 250
MIN_PAIRS = 3  # mentions a word pair must share to be a translation
MIN_ASSOCIATION = 1.0
COGNATE_RATIO = 75.0
MIN_SCORE = 0.5
EXTRA_PENALTY = 0.5

_WORD = re.compile(r"[a-z0-9]+")
_SPANISH_STOP = frozenset(
    re.findall(r"\w+", "de la el en los las del y a con por para un una al se que o sin")
)
_ENGLISH_STOP = frozenset(
    re.findall(
        r"\w+",
        "of the a an and in on to for with by at was is were be as that this from or which it "
        "his her he she",
    )
)
_LABELS = {"DIAGNOSTICO": System.ICD10CM, "PROCEDIMIENTO": System.ICD10PCS}


@dataclass(frozen=True)
class Mention:
    """One CodiEsp-X gold span: its note, code and words, and where it starts (0-1) in the
    Spanish original."""

    doc: str
    system: System
    code: str
    words: tuple[str, ...]
    position: float


def _plain(text: str) -> str:
    """Lower case without accents ("tórax" -> "torax")."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def spanish_words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _WORD.findall(_plain(text)) if w not in _SPANISH_STOP)


def read_mentions(data_dir: Path, split: str, docs: Iterable[str]) -> list[Mention]:
    """The ``{split}X.tsv`` mentions of ``docs``, placed by the Spanish originals in
    ``{split}/text_files``.

    Raises:
        CacError: if the file or an original is missing, or a line is malformed.
    """
    wanted = set(docs)
    path = data_dir / split / f"{split}X.tsv"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CacError(f"CodiEsp-X file not found: {path}") from None
    lengths: dict[str, int] = {}
    out = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if not line.strip() or fields[0] not in wanted:
            continue
        if len(fields) < 5 or fields[1] not in _LABELS:
            raise CacError(
                f"{path.name}, line {number}: expected 'doc, label, code, text, offsets'"
            )
        doc = fields[0]
        if doc not in lengths:
            original = data_dir / split / "text_files" / f"{doc}.txt"
            try:
                lengths[doc] = max(1, len(original.read_text(encoding="utf-8")))
            except FileNotFoundError:
                raise CacError(f"CodiEsp original not found: {original}") from None
        try:
            start = int(fields[4].split()[0])
        except (ValueError, IndexError):
            raise CacError(f"{path.name}, line {number}: bad offsets") from None
        words = spanish_words(fields[3])
        if words:
            position = min(1.0, start / lengths[doc])
            out.append(Mention(doc, _LABELS[fields[1]], fields[2].lower(), words, position))
    return out


def _window(text: str, position: float) -> str:
    centre = int(position * len(text))
    half = max(WINDOW_MIN_CHARS, int(WINDOW_SHARE * len(text)))
    return text[max(0, centre - half) : centre + half]


def _english_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _ENGLISH_STOP}


def translation_table(mentions: list[Mention], texts: Mapping[str, str]) -> dict[str, str]:
    """Spanish word -> its best-associated English word (see the module docstring)."""
    spanish: Counter[str] = Counter()
    english: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for mention in mentions:
        window = _english_words(_window(texts[mention.doc], mention.position))
        found = set(mention.words)
        spanish.update(found)
        english.update(window)
        pairs.update((a, b) for a in found for b in window)
    n = len(mentions)
    best: dict[str, tuple[float, str]] = {}
    for (a, b), k in pairs.items():
        if k < MIN_PAIRS:
            continue
        score = k / spanish[a] * math.log(n * k / (spanish[a] * english[b]))
        if score >= MIN_ASSOCIATION and (a not in best or (score, b) > best[a]):
            best[a] = (score, b)
    return {a: b for a, (_, b) in best.items()}


def _matches(spanish: str, english: str, table: Mapping[str, str]) -> bool:
    if table.get(spanish) == english:
        return True
    return len(spanish) >= 4 and len(english) >= 4 and fuzz.ratio(spanish, english) >= COGNATE_RATIO


def align(mention: Mention, text: str, table: Mapping[str, str]) -> str | None:
    """The English n-gram (normalised words) that best translates ``mention``, or None."""
    words = [t.norm for t in tokenize(_window(text, mention.position))]
    match = {
        w: {a for a in mention.words if _matches(a, w, table)}
        for w in set(words)
        if w not in _ENGLISH_STOP
    }
    best: tuple[float, str] | None = None
    for i, first in enumerate(words):
        if first in _ENGLISH_STOP:
            continue
        for j in range(i + 1, min(len(words), i + MAX_TOKENS) + 1):
            if words[j - 1] in _ENGLISH_STOP:
                continue
            content = [w for w in words[i:j] if w not in _ENGLISH_STOP]
            covered = set().union(*(match[w] for w in content))
            if not covered:
                continue
            unmatched = sum(not match[w] for w in content)
            score = len(covered) / len(mention.words) - EXTRA_PENALTY * unmatched / len(content)
            if best is None or score > best[0]:
                best = (score, " ".join(words[i:j]))
    if best is None or best[0] < MIN_SCORE:
        return None
    return best[1]


def aligned_mentions(
    mentions: list[Mention], texts: Mapping[str, str]
) -> dict[tuple[System, str], set[str]]:
    """Per (system, benchmark code), the English phrases its mentions align to."""
    table = translation_table(mentions, texts)
    out: dict[tuple[System, str], set[str]] = defaultdict(set)
    for mention in mentions:
        phrase = align(mention, texts[mention.doc], table)
        if phrase is not None and len(phrase) > 2 and not phrase.isdigit():
            out[(mention.system, mention.code)].add(phrase)
    return dict(out)
