"""Dense candidate retrieval: a fine-tuned MiniLM bi-encoder over the knowledge-base names.

The encoder (``models/biencoder``, trained by ``python -m training.biencoder``) maps a mention or
a code name to an L2-normalised vector: mean pooling over at most ``MAX_TOKENS`` word pieces. A
system's index is a matrix with one row per (name, code) pair, rows grouped by code, so a
code scores the best cosine over its names (one ``np.maximum.reduceat`` per query batch). The
matrix is stored float32 and memory-mapped: nothing is copied or widened at load or per query,
and worker processes share its pages. (Float16 halves the disk, 210 -> 105 MB for all systems,
but widening ICD-10-CM's 110k rows per query batch cost ~0.25 s on one core.)

The index lives beside the knowledge base (``$CAC_HOME/dense/`` for ``$CAC_HOME/kb``): per
system ``<system>.npy`` and ``<system>.rows.tsv`` (``code<TAB>name`` per row), and
``manifest.json`` naming the encoder version and the knowledge-base content hash. A system whose
entry does not match is rebuilt on load; names that the previous index embedded with the same
encoder are reused, not re-encoded. (Beside, not inside: ``cac kb build`` replaces the knowledge
base directory whole, and a rebuild with unchanged content must not cost a re-embedding.)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import AutoModel

from cac.codesets.records import CodeRecord, System
from cac.errors import KnowledgeBaseError
from cac.kb.build import NOT_INDEXED_KINDS
from cac.kb.store import KnowledgeBase
from cac.nlp.compact import fingerprint, load_trained

MAX_TOKENS = 32
# The committed encoder (``python -m training.biencoder``).
DEFAULT_MODEL_DIR = Path(__file__).parents[2] / "models" / "biencoder"
# ICD-10-PCS full codes (78,638 long compositional titles, ~60 % of all names) are left out:
# embedding them costs minutes per core, and their body-part nodes ("Resection of Appendix")
# and root-operation tables with their index terms carry what a mention names. The rest of the
# approach/device/qualifier axes is chosen below the node, not by similarity.
SKIPPED_KINDS: dict[System, frozenset[str]] = {System.ICD10PCS: frozenset({"code"})}
_ENCODE_BATCH = 64
_SLICE_QUERIES = 128

logger = logging.getLogger(__name__)

Hits = list[tuple[str, float]]
Vectors = npt.NDArray[np.float32]


def normalize_text(text: str) -> str:
    """What the encoder sees: lower case, single spaces."""
    return " ".join(text.lower().split())


class DenseEncoder:
    """A loaded bi-encoder; :meth:`encode` returns L2-normalised float32 rows."""

    def __init__(self, directory: Path) -> None:
        try:
            self.tokenizer, self.model = load_trained(directory, AutoModel, add_pooling_layer=False)
        except (OSError, RuntimeError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"bi-encoder in {directory} is missing or incomplete ({type(exc).__name__}); "
                "train it with 'python -m training.biencoder'"
            ) from None
        self.directory = directory
        self.version = fingerprint(directory, "minilm-biencoder")
        self.dim = int(self.model.config.hidden_size)

    @torch.inference_mode()
    def encode(
        self,
        texts: list[str],
        batch_size: int = _ENCODE_BATCH,
        advance: Callable[[int], None] | None = None,
    ) -> Vectors:
        """Vectors of ``texts`` in order, shape ``(len(texts), dim)``.

        Texts are encoded shortest first, so a batch pads little; ``advance`` is called with the
        number of texts done after each batch (for a progress bar).
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        cleaned = [normalize_text(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(cleaned[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenizer(
                [cleaned[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            out[rows] = embed(self.model, batch).numpy()
            if advance is not None:
                advance(len(rows))
        return out


def embed(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean of the last hidden states over real tokens, L2-normalised (training uses it too)."""
    hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.last_hidden_state.dtype)
    pooled = (hidden.last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1)


@dataclass(frozen=True)
class DensePaths:
    """The files of the dense index (``$CAC_HOME/dense``)."""

    root: Path

    @classmethod
    def of(cls, kb: KnowledgeBase) -> DensePaths:
        """The index of the knowledge base ``kb``: a ``dense`` folder beside its directory."""
        return cls(kb.paths.root.parent / "dense")

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def vectors(self, system: System) -> Path:
        return self.root / f"{system.value}.npy"

    def rows(self, system: System) -> Path:
        """One line per matrix row, in row order: ``code<TAB>name``."""
        return self.root / f"{system.value}.rows.tsv"


class DenseSystemManifest(BaseModel):
    """One system's entry: what it was built from and what it holds."""

    model_config = ConfigDict(frozen=True)

    encoder: str
    kb_content_hash: str
    rows: int
    codes: int
    names_encoded: int
    names_reused: int
    build_seconds: float


class DenseManifest(BaseModel):
    """``manifest.json`` of the dense index."""

    model_config = ConfigDict(frozen=True)

    systems: dict[str, DenseSystemManifest] = {}

    @classmethod
    def load(cls, path: Path) -> DenseManifest:
        """The manifest, or an empty one when it is missing or unreadable (all stale)."""
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            return cls()

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


def index_names(records: Iterable[CodeRecord], system: System) -> list[tuple[str, str]]:
    """Sorted, distinct ``(code, name)`` pairs of one system to embed (names normalised)."""
    skipped = NOT_INDEXED_KINDS | SKIPPED_KINDS.get(system, frozenset())
    pairs = {
        (r.code, normalize_text(name))
        for r in records
        if r.system is system and r.active and r.kind not in skipped
        for name in (r.title, *r.synonyms)
    }
    return sorted(p for p in pairs if p[1])


class DenseIndex:
    """One system's matrix (memory-mapped float32) and its row -> code layout."""

    def __init__(self, vectors: Vectors, codes: list[str], names: list[str]) -> None:
        if len(codes) != vectors.shape[0] or len(names) != len(codes):
            raise KnowledgeBaseError("dense index rows and vectors disagree; rebuild it")
        self.vectors = vectors
        self.names = names
        starts = [i for i, c in enumerate(codes) if i == 0 or c != codes[i - 1]]
        self.codes = [codes[i] for i in starts]
        self._starts = np.asarray(starts, dtype=np.int64)

    @classmethod
    def load(cls, paths: DensePaths, system: System) -> DenseIndex:
        """Open a saved system matrix (memory-mapped).

        Raises:
            KnowledgeBaseError: if its files are missing or damaged.
        """
        try:
            vectors = np.load(paths.vectors(system), mmap_mode="r")
            lines = paths.rows(system).read_text(encoding="utf-8").splitlines()
        except (OSError, ValueError) as exc:
            raise KnowledgeBaseError(
                f"dense index of {system.value} in {paths.root} is missing or damaged "
                f"({type(exc).__name__}); run 'cac kb build-dense --force'"
            ) from None
        codes, names = [], []
        for line in lines:
            code, _, name = line.partition("\t")
            codes.append(code)
            names.append(name)
        return cls(vectors, codes, names)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def code_scores(self, queries: Vectors) -> Vectors:
        """Best cosine per code for each query row, shape ``(len(queries), codes)``."""
        if len(self) == 0:
            return np.zeros((queries.shape[0], 0), dtype=np.float32)
        scores = np.ascontiguousarray(queries, dtype=np.float32) @ self.vectors.T
        return np.maximum.reduceat(scores, self._starts, axis=1)

    def search_vectors(self, queries: Vectors, k: int) -> list[Hits]:
        """The best ``k`` codes per query row, best first."""
        out: list[Hits] = []
        k = min(k, len(self.codes))
        # Queries in slices bound the (queries x rows) score matrix.
        for start in range(0, queries.shape[0], _SLICE_QUERIES):
            scores = self.code_scores(queries[start : start + _SLICE_QUERIES])
            if k == 0:
                out += [[] for _ in range(scores.shape[0])]
                continue
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            for row, columns in zip(scores, top, strict=True):
                best = sorted(columns, key=lambda c: (-row[c], self.codes[c]))
                out.append([(self.codes[c], round(float(row[c]), 4)) for c in best])
        return out


def stored_vectors(paths: DensePaths, system: System, encoder: str) -> dict[str, Vectors]:
    """Name -> vector of a saved index built by ``encoder`` (empty for another encoder)."""
    entry = DenseManifest.load(paths.manifest).systems.get(system.value)
    if entry is None or entry.encoder != encoder:
        return {}
    try:
        index = DenseIndex.load(paths, system)
    except KnowledgeBaseError:
        return {}
    return {name: index.vectors[i] for i, name in enumerate(index.names)}


def build_system(
    records: Iterable[CodeRecord],
    system: System,
    encoder: DenseEncoder,
    paths: DensePaths,
    content_hash: str,
    *,
    reuse: dict[str, Vectors] | None = None,
    progress: Progress | None = None,
) -> DenseSystemManifest:
    """Embed one system's names and write its matrix, rows file and manifest entry.

    Args:
        records: The knowledge-base records (other systems' records are ignored).
        system: The system to build.
        encoder: The bi-encoder.
        paths: Where the index lives.
        content_hash: The knowledge base's content hash, recorded for staleness checks.
        reuse: Name -> vector already computed by this encoder (default: the current files).
        progress: A rich progress display to advance while encoding.
    """
    started = time.perf_counter()
    pairs = index_names(records, system)
    known = reuse if reuse is not None else stored_vectors(paths, system, encoder.version)
    names = sorted({name for _, name in pairs})
    missing = [n for n in names if n not in known]
    task = progress.add_task(f"dense {system.value}", total=len(missing)) if progress else None

    def advance(n: int) -> None:
        if progress is not None and task is not None:
            progress.advance(task, n)

    fresh = encoder.encode(missing, advance=advance) if missing else np.zeros((0, encoder.dim))
    row_of = {name: i for i, name in enumerate(missing)}
    matrix = np.zeros((len(pairs), encoder.dim), dtype=np.float32)
    for i, (_, name) in enumerate(pairs):
        matrix[i] = fresh[row_of[name]] if name in row_of else known[name]
    paths.root.mkdir(parents=True, exist_ok=True)
    tag = f".{os.getpid()}.{threading.get_ident()}"
    vectors_tmp = paths.vectors(system).with_name(paths.vectors(system).name + tag + ".npy")
    rows_tmp = paths.rows(system).with_name(paths.rows(system).name + tag)
    np.save(vectors_tmp, matrix)
    rows_tmp.write_text("".join(f"{c}\t{n}\n" for c, n in pairs), encoding="utf-8")
    vectors_tmp.replace(paths.vectors(system))
    rows_tmp.replace(paths.rows(system))
    entry = DenseSystemManifest(
        encoder=encoder.version,
        kb_content_hash=content_hash,
        rows=len(pairs),
        codes=len({c for c, _ in pairs}),
        names_encoded=len(missing),
        names_reused=len(names) - len(missing),
        build_seconds=round(time.perf_counter() - started, 1),
    )
    systems = {**DenseManifest.load(paths.manifest).systems, system.value: entry}
    DenseManifest(systems=systems).save(paths.manifest)
    return entry


def _default_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


class DenseRetriever:
    """The encoder plus one index per system; :meth:`search` is batched.

    Thread-safe for searches; a missing or stale system index is built once, under a lock.
    """

    def __init__(self, kb: KnowledgeBase, encoder: DenseEncoder) -> None:
        self.kb = kb
        self.encoder = encoder
        self.paths = DensePaths.of(kb)
        self._indexes: dict[System, DenseIndex] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        kb: KnowledgeBase,
        model_dir: Path,
        *,
        systems: list[System] | None = None,
        progress: Progress | None = None,
    ) -> DenseRetriever:
        """The retriever for ``kb``; builds (with a progress bar) any missing or stale index.

        Args:
            kb: The knowledge base; the index lives in its directory.
            model_dir: The trained bi-encoder (``models/biencoder``).
            systems: Systems to make ready now (default: all of the knowledge base).
            progress: A rich progress display; one on stderr is used when a build is needed.

        Raises:
            KnowledgeBaseError: if the encoder is missing.
        """
        retriever = cls(kb, DenseEncoder(model_dir))
        retriever.ensure(systems or kb.systems, progress=progress)
        return retriever

    def stale(self, systems: list[System]) -> list[System]:
        """Systems whose index is missing or was built from another encoder or knowledge base."""
        manifest = DenseManifest.load(self.paths.manifest)
        out = []
        for system in systems:
            entry = manifest.systems.get(system.value)
            if (
                entry is None
                or entry.encoder != self.encoder.version
                or entry.kb_content_hash != self.kb.manifest.content_hash
                or not self.paths.vectors(system).exists()
                or not self.paths.rows(system).exists()
            ):
                out.append(system)
        return out

    def ensure(
        self, systems: list[System], *, force: bool = False, progress: Progress | None = None
    ) -> dict[System, DenseSystemManifest]:
        """Build the indexes of ``systems`` that are stale (all of them with ``force``)."""
        with self._lock:
            todo = systems if force else self.stale(systems)
            if not todo:
                return {}
            records = list(self.kb.records())
            built: dict[System, DenseSystemManifest] = {}
            own = progress is None
            display = progress or _default_progress()
            if own:
                display.start()
            try:
                for system in todo:
                    logger.info("building dense index of %s", system.value)
                    reuse: dict[str, Vectors] | None = {} if force else None
                    built[system] = build_system(
                        records,
                        system,
                        self.encoder,
                        self.paths,
                        self.kb.manifest.content_hash,
                        reuse=reuse,
                        progress=display,
                    )
                    self._indexes.pop(system, None)
            finally:
                if own:
                    display.stop()
            return built

    def index(self, system: System) -> DenseIndex:
        """One system's index, opened once (built first if it is missing or stale)."""
        if system not in self._indexes:
            self.ensure([system])
            with self._lock:
                if system not in self._indexes:
                    self._indexes[system] = DenseIndex.load(self.paths, system)
        return self._indexes[system]

    def encode(self, texts: list[str]) -> Vectors:
        """Query vectors, for :meth:`search_vectors` over several systems."""
        return self.encoder.encode(texts)

    def search_vectors(self, vectors: Vectors, system: System, k: int) -> list[Hits]:
        """The best ``k`` codes of ``system`` for each query vector."""
        return self.index(system).search_vectors(vectors, k)

    def search(self, texts: list[str], system: System, k: int) -> list[Hits]:
        """The best ``k`` codes of ``system`` per text, best first, as ``(code, cosine)``.

        One encoder call for all texts and one matrix product; a code scores the best cosine
        over its names.
        """
        if not texts:
            return []
        return self.search_vectors(self.encode(texts), system, k)
