"""Dense retrieval: a tiny random encoder for the plumbing, the committed one for a synonym."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cac.codesets.records import CodeRecord, SourceInfo, System
from cac.codesets.registry import CodeSetSource
from cac.config import Settings
from cac.kb.build import build
from cac.kb.store import KnowledgeBase
from cac.linking.dense import (
    DEFAULT_MODEL_DIR,
    DenseEncoder,
    DenseManifest,
    DenseRetriever,
    index_names,
)
from cac.nlp.compact import COMPACT_NAME, save_compact
from training.biencoder import Pair, batches, contrastive_loss, train

_CODES = [
    ("I219", "Acute myocardial infarction, unspecified", ()),
    ("J189", "Pneumonia, unspecified organism", ()),
    ("E119", "Type 2 diabetes mellitus without complications", ()),
    ("K3580", "Unspecified acute appendicitis", ("Acute appendicitis NOS",)),
    ("N390", "Urinary tract infection, site not specified", ()),
    ("S7200", "Fracture of unspecified part of neck of femur", ("Fracture of hip NOS",)),
    ("G439", "Migraine, unspecified", ()),
    ("I10", "Essential (primary) hypertension", ("High blood pressure",)),
    ("N200", "Calculus of kidney", ()),
]


def _records(extra: str = "") -> Iterator[CodeRecord]:
    yield CodeRecord(System.ICD10CM, "CH09", "Diseases of the circulatory system", kind="chapter")
    for code, title, synonyms in _CODES:
        yield CodeRecord(System.ICD10CM, code, title + extra, synonyms=synonyms)


def _kb(home: Path, extra: str = "") -> KnowledgeBase:
    source = CodeSetSource(
        System.ICD10CM,
        lambda: _records(extra),
        lambda: SourceInfo(System.ICD10CM, "fake", "test"),
    )
    settings = Settings(home=home)
    build(settings, code_sets=[source], force=True)
    return KnowledgeBase.open(settings.kb_dir)


@pytest.fixture(scope="module")
def tiny_encoder(tiny_encoder_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model stored as we ship ours: int8 weights, config and tokenizer, no float file."""
    out = tmp_path_factory.mktemp("tiny-encoder")
    for name in tiny_encoder_base.iterdir():
        if name.name != "model.safetensors":
            shutil.copy(name, out / name.name)
    save_compact(load_file(str(tiny_encoder_base / "model.safetensors")), out)
    return out


@pytest.fixture
def fake_kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    kb = _kb(tmp_path)
    yield kb
    kb.close()


def test_encoder_output_is_normalised_and_deterministic(tiny_encoder: Path) -> None:
    encoder = DenseEncoder(tiny_encoder)
    texts = ["heart attack", "acute myocardial infarction of the anterior wall", "UTI"]
    first = encoder.encode(texts)
    assert first.dtype == np.float32 and first.shape == (3, 32)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, encoder.encode(texts))
    # order, case and spacing of the inputs do not change a text's vector
    again = encoder.encode(["uti", "Heart   attack"])
    assert np.allclose(again, first[[2, 0]], atol=1e-5)


def test_index_rows_cover_titles_and_synonyms_of_searchable_codes(fake_kb: KnowledgeBase) -> None:
    pairs = index_names(fake_kb.records(), System.ICD10CM)
    assert ("I10", "high blood pressure") in pairs
    assert not any(code == "CH09" for code, _ in pairs)  # chapters are never candidates
    assert pairs == sorted(pairs)


def test_search_in_a_batch_equals_one_by_one(tiny_encoder: Path, fake_kb: KnowledgeBase) -> None:
    retriever = DenseRetriever.load(fake_kb, tiny_encoder)
    texts = ["heart attack", "broken hip", "high blood pressure", "kidney infection"]
    together = retriever.search(texts, System.ICD10CM, 3)
    for text, hits in zip(texts, together, strict=True):
        (alone,) = retriever.search([text], System.ICD10CM, 3)
        assert [c for c, _ in alone] == [c for c, _ in hits]
        assert [s for _, s in alone] == pytest.approx([s for _, s in hits], abs=2e-4)
    assert all(len(h) == 3 for h in together)
    assert retriever.search([], System.ICD10CM, 3) == []


def test_an_exact_name_ranks_its_code_first(tiny_encoder: Path, fake_kb: KnowledgeBase) -> None:
    retriever = DenseRetriever.load(fake_kb, tiny_encoder)
    (hits,) = retriever.search(["High blood pressure"], System.ICD10CM, 8)
    assert hits[0] == ("I10", pytest.approx(1.0, abs=2e-3))
    assert len({c for c, _ in hits}) == len(hits) == 8  # one entry per code, best name counts


def test_stale_manifest_triggers_a_rebuild(tiny_encoder: Path, tmp_path: Path) -> None:
    kb = _kb(tmp_path)
    retriever = DenseRetriever.load(kb, tiny_encoder)
    paths = retriever.paths
    assert retriever.stale([System.ICD10CM]) == []
    kb.close()

    changed = _kb(tmp_path, extra=" (revised)")  # new knowledge-base content, same directory
    rebuilt = DenseRetriever(changed, DenseEncoder(tiny_encoder))
    assert rebuilt.stale([System.ICD10CM]) == [System.ICD10CM]
    (hits,) = rebuilt.search(["migraine (revised)"], System.ICD10CM, 1)
    assert hits[0][0] == "G439"
    entry = DenseManifest.load(paths.manifest).systems["icd10cm"]
    assert entry.kb_content_hash == changed.manifest.content_hash
    assert entry.names_encoded == len(_CODES)  # the revised titles; synonyms were reused
    assert entry.names_reused == 3
    changed.close()


_NO_MODEL = pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / COMPACT_NAME).exists(),
    reason="no trained bi-encoder in models/biencoder (python -m training.biencoder)",
)


@_NO_MODEL
def test_trained_encoder_links_clinical_synonyms(fake_kb: KnowledgeBase) -> None:
    retriever = DenseRetriever.load(fake_kb, DEFAULT_MODEL_DIR)
    texts = ["kidney stone", "broken hip", "type ii diabetes", "bladder infection"]
    hits = retriever.search(texts, System.ICD10CM, 3)
    assert [h[0][0] for h in hits] == ["N200", "S7200", "E119", "N390"]


@_NO_MODEL
@pytest.mark.xfail(
    strict=True,
    reason="known weakness of the committed bi-encoder: lay terms. It ranks 'high blood "
    "pressure' (I10) above 'acute myocardial infarction' for 'heart attack'; the base MiniLM "
    "ranks I21.9 first. Remove this marker when a retrained model passes.",
)
def test_trained_encoder_links_heart_attack_to_myocardial_infarction(
    fake_kb: KnowledgeBase,
) -> None:
    retriever = DenseRetriever.load(fake_kb, DEFAULT_MODEL_DIR)
    (heart,) = retriever.search(["heart attack"], System.ICD10CM, 3)
    assert heart[0][0] == "I219"


def _pairs() -> list[Pair]:
    names = [
        ("I219", "heart attack", "acute myocardial infarction"),
        ("I10", "high blood pressure", "essential hypertension"),
        ("J189", "chest infection", "pneumonia"),
        ("N390", "uti", "urinary tract infection"),
        ("G439", "bad headache", "migraine"),
        ("E119", "t2dm", "type 2 diabetes mellitus"),
    ]
    return [Pair(f"icd10cm:{c}", f"icd10cm:{c[:3]}", a, b, "test") for c, a, b in names]


def test_batches_never_hold_two_pairs_of_one_code() -> None:
    pairs = [*_pairs(), Pair("icd10cm:I219", "icd10cm:I21", "mi", "heart attack", "test")]
    stream = batches(pairs, 4, random.Random(0))
    for _ in range(20):
        batch = next(stream)
        assert len(batch) == 4 and len({p.key for p in batch}) == 4


def test_false_negatives_are_masked_out_of_the_loss() -> None:
    anchors = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), dim=-1)
    same = torch.tensor([[False, True], [True, False]])
    masked = contrastive_loss(anchors, anchors, same)
    unmasked = contrastive_loss(anchors, anchors, torch.zeros((2, 2), dtype=torch.bool))
    assert float(masked) < 1e-3 < float(unmasked)


def test_tiny_training_run_lowers_the_loss_and_saves_a_loadable_encoder(
    tiny_encoder_base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "biencoder"
    figures = train(_pairs(), out, steps=30, batch_size=6, base=tiny_encoder_base, lr=1e-3)
    assert figures["steps"] == 30
    assert figures["final_loss"] < figures["first_loss"]
    assert (out / COMPACT_NAME).exists() and (out / "config.json").exists()
    vectors = DenseEncoder(out).encode(["heart attack"])
    assert vectors.shape == (1, 32)
