"""Reader for PubTator files (BC5CDR, NCBI-disease): title and abstract with entity offsets.

The text of a document is its title, one space, then its abstract; entity offsets index that
text. Entity types are mapped to cac's mention labels (``Disease`` -> DIAGNOSIS); other types are
ignored. Documents come back as :class:`eval.brat.BratDoc`, so the brat scorer applies.
"""

from __future__ import annotations

from pathlib import Path

from cac.errors import CacError
from eval.brat import BratDoc, Span

BC5CDR_DIR = Path(__file__).parent / "data" / "bc5cdr"
BC5CDR_FILES = {
    "train": "CDR_TrainingSet.PubTator.txt",
    "dev": "CDR_DevelopmentSet.PubTator.txt",
    "test": "CDR_TestSet.PubTator.txt",
}
TYPES = {
    "Disease": "DIAGNOSIS",
    "DiseaseClass": "DIAGNOSIS",
    "SpecificDisease": "DIAGNOSIS",
    "Modifier": "DIAGNOSIS",
    "CompositeMention": "DIAGNOSIS",
}


def read_pubtator(path: Path) -> list[BratDoc]:
    """Every document of a PubTator file, in file order.

    Raises:
        CacError: naming the file and line of a malformed record or an offset that does not
            match the text.
    """
    docs: list[BratDoc] = []
    title: dict[str, str] = {}
    abstract: dict[str, str] = {}
    spans: dict[str, list[Span]] = {}
    surface: dict[tuple[str, int, int], str] = {}
    order: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if "|t|" in line[:40] or "|a|" in line[:40]:
            marker = "|t|" if "|t|" in line[:40] else "|a|"
            doc_id, _, body = line.partition(marker)
            doc_id = doc_id.strip()
            if doc_id not in spans:
                order.append(doc_id)
                spans[doc_id] = []
            (title if marker == "|t|" else abstract)[doc_id] = body
            continue
        fields = line.split("\t")
        if len(fields) >= 4 and fields[1] == "CID":
            continue
        if len(fields) < 5:
            raise CacError(f"{path.name}, line {number}: malformed annotation")
        doc_id = fields[0].strip()
        if doc_id not in spans:
            raise CacError(f"{path.name}, line {number}: annotation before its document")
        label = TYPES.get(fields[4])
        if label is None:
            continue
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise CacError(f"{path.name}, line {number}: offsets are not integers") from None
        spans[doc_id].append((start, end, label))
        surface[(doc_id, start, end)] = fields[3]
    for doc_id in order:
        text = title.get(doc_id, "") + " " + abstract.get(doc_id, "")
        for start, end, _ in spans[doc_id]:
            if text[start:end] != surface[(doc_id, start, end)] or not 0 <= start < end:
                raise CacError(
                    f"{path.name}: document {doc_id} has an offset that does not match its text"
                )
        docs.append(BratDoc(doc_id, text, sorted(set(spans[doc_id]))))
    if not docs:
        raise CacError(f"{path.name} holds no PubTator documents")
    return docs


def bc5cdr(split: str, directory: Path = BC5CDR_DIR) -> list[BratDoc]:
    """The disease mentions of one BC5CDR split (train, dev or test)."""
    if split not in BC5CDR_FILES:
        raise CacError(f"unknown BC5CDR split {split!r}; use train, dev or test")
    return read_pubtator(directory / BC5CDR_FILES[split])
