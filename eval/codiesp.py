"""CodiEsp corpus reader: ``DIR/{split}/text_files_en/*.txt`` and ``DIR/{split}/{split}D|P.tsv``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from cac.errors import CacError

DEFAULT_DIR = Path(__file__).parent / "data" / "codiesp"
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class CodiEspSplit:
    """One split: English texts and gold D (ICD-10-CM) / P (ICD-10-PCS) codes per document."""

    name: str
    texts: dict[str, str]
    gold_d: dict[str, list[str]]
    gold_p: dict[str, list[str]]


def _read_gold(path: Path) -> dict[str, list[str]]:
    gold: dict[str, list[str]] = defaultdict(list)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CacError(f"CodiEsp gold file not found: {path}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise CacError(f"{path}, line {number}: expected 'document<TAB>code'")
        code = fields[1].strip().lower()
        if code not in gold[fields[0]]:
            gold[fields[0]].append(code)
    return dict(gold)


def load_texts(data_dir: Path, split: str) -> dict[str, str]:
    """The English texts of one split, without touching its gold files.

    Raises:
        CacError: for an unknown split or a directory that does not hold the CodiEsp layout.
    """
    if split not in SPLITS:
        raise CacError(f"unknown CodiEsp split {split!r}; use one of {', '.join(SPLITS)}")
    text_dir = data_dir / split / "text_files_en"
    if not text_dir.is_dir():
        raise CacError(
            f"no CodiEsp {split} texts at {text_dir} (expected DIR/{split}/text_files_en)"
        )
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(text_dir.glob("*.txt"))}
    if not texts:
        raise CacError(f"no .txt files in {text_dir}")
    return texts


def load_split(data_dir: Path, split: str) -> CodiEspSplit:
    """Read one split of the CodiEsp layout, texts and gold.

    Raises:
        CacError: for an unknown split or a directory that does not hold the CodiEsp layout.
    """
    root = data_dir / split
    return CodiEspSplit(
        name=split,
        texts=load_texts(data_dir, split),
        gold_d=_read_gold(root / f"{split}D.tsv"),
        gold_p=_read_gold(root / f"{split}P.tsv"),
    )
