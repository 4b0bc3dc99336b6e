"""Character 3-gram TF-IDF nearest-neighbour index over our own code strings.

The query side is scispaCy's :class:`~scispacy.candidate_generation.CandidateGenerator`; we build
its three parts (vectorizer, nmslib HNSW index, alias list) ourselves from *our* knowledge base,
because scispaCy's ``create_tfidf_ann_index`` is tied to its hosted UMLS files, pickles the
vectorizer and tunes the index for a 60-thread machine. Everything is saved in safe formats: the
vocabulary and IDF weights as JSON/NumPy, aliases as TSV, the graph and its sparse vectors in
nmslib's own format (loading it with its data is four times faster than re-adding the vectors).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nmslib
import numpy as np
from scispacy.candidate_generation import CandidateGenerator, MentionCandidate
from scispacy.linking_utils import KnowledgeBase
from sklearn.feature_extraction.text import TfidfVectorizer

from cac.errors import KnowledgeBaseError

_HNSW_BUILD = {"M": 32, "efConstruction": 200, "post": 0, "indexThreadQty": 2}
# The graph is built on 2 threads, so each build differs; at 200 some builds lose whole regions
# ("acute respiratory failure with hypoxia" reached only spiral fractures in a fresh clone's
# index, J96.01 first at 800). 800 finds them in both indexes compared, at a few ms per batch.
_EF_SEARCH = 800


@dataclass(frozen=True)
class IndexPaths:
    """The files of one system's TF-IDF index (cf. scispaCy's ``LinkerPaths``)."""

    root: Path

    @property
    def vocabulary(self) -> Path:
        return self.root / "tfidf_vocabulary.json"

    @property
    def idf(self) -> Path:
        return self.root / "tfidf_idf.npy"

    @property
    def ann_index(self) -> Path:
        return self.root / "nmslib_index.bin"

    @property
    def aliases(self) -> Path:
        """One line per indexed alias, in index order: ``alias<TAB>code code ...``."""
        return self.root / "aliases.tsv"


class _AliasKnowledgeBase(KnowledgeBase):  # type: ignore[misc]
    """The slice of scispaCy's ``KnowledgeBase`` that ``CandidateGenerator`` reads."""

    def __init__(self, alias_to_codes: dict[str, list[str]]) -> None:
        self.cui_to_entity: dict[str, Any] = {}
        self.alias_to_cuis = alias_to_codes


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32)


def build_index(pairs: Iterable[tuple[str, str]], out_dir: Path) -> int:
    """Build and save an index over ``(alias, code)`` pairs; returns the number of aliases.

    Aliases are lower-cased and de-duplicated; one alias may name several codes.
    """
    alias_to_codes: dict[str, list[str]] = {}
    for alias, code in pairs:
        key = " ".join(alias.lower().split())
        if key:
            codes = alias_to_codes.setdefault(key, [])
            if code not in codes:
                codes.append(code)
    if not alias_to_codes:
        raise KnowledgeBaseError(f"no aliases to index for {out_dir.name}")
    vectorizer = _vectorizer()
    aliases = list(alias_to_codes)
    vectors = vectorizer.fit_transform(aliases).astype(np.float32).tocsr()
    keep = np.asarray(vectors.sum(axis=1)).reshape(-1) != 0
    aliases = [a for a, k in zip(aliases, keep, strict=True) if k]
    vectors = vectors[keep]

    paths = IndexPaths(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths.vocabulary.write_text(
        json.dumps({k: int(v) for k, v in vectorizer.vocabulary_.items()}), encoding="utf-8"
    )
    np.save(paths.idf, vectorizer.idf_.astype(np.float32))
    paths.aliases.write_text(
        "".join(f"{a}\t{' '.join(alias_to_codes[a])}\n" for a in aliases), encoding="utf-8"
    )
    index = nmslib.init(
        method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR
    )
    index.addDataPointBatch(vectors)
    index.createIndex(_HNSW_BUILD, print_progress=False)
    index.saveIndex(str(paths.ann_index), save_data=True)
    return len(aliases)


class TfidfIndex:
    """A loaded index; call :meth:`query` with mention strings."""

    def __init__(self, generator: CandidateGenerator) -> None:
        self._generator = generator

    @classmethod
    def load(cls, root: Path) -> TfidfIndex:
        """Load a saved index.

        Raises:
            KnowledgeBaseError: if a file is missing (rebuild with ``cac kb build``).
        """
        paths = IndexPaths(root)
        try:
            vocabulary = json.loads(paths.vocabulary.read_text(encoding="utf-8"))
            idf = np.load(paths.idf)
            lines = paths.aliases.read_text(encoding="utf-8").splitlines()
            for required in (
                paths.ann_index,
                paths.ann_index.with_name(paths.ann_index.name + ".dat"),
            ):
                if not required.exists():
                    raise FileNotFoundError(required)
        except (OSError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"TF-IDF index in {root} is missing or damaged ({exc}); run 'cac kb build --force'"
            ) from None
        vectorizer = _vectorizer()
        vectorizer.vocabulary_ = vocabulary
        vectorizer.idf_ = idf
        index = nmslib.init(
            method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR
        )
        index.loadIndex(str(paths.ann_index), load_data=True)
        index.setQueryTimeParams({"efSearch": _EF_SEARCH})
        aliases: list[str] = []
        alias_to_codes: dict[str, list[str]] = {}
        for line in lines:
            alias, _, codes = line.partition("\t")
            aliases.append(alias)
            alias_to_codes[alias] = codes.split(" ")
        kb = _AliasKnowledgeBase(alias_to_codes)
        generator = CandidateGenerator(
            ann_index=index, tfidf_vectorizer=vectorizer, ann_concept_aliases_list=aliases, kb=kb
        )
        return cls(generator)

    def query(self, texts: list[str], k: int) -> list[list[MentionCandidate]]:
        """Nearest aliases for each text, grouped by code (scispaCy ``MentionCandidate``)."""
        lowered = [" ".join(t.lower().split()) for t in texts]
        result: list[list[MentionCandidate]] = self._generator(lowered, k)
        return result
