"""CodiEsp-X mentions aligned from the Spanish originals to English phrases."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac.codesets.records import System
from cac.errors import CacError
from training.crosslingual import (
    Mention,
    align,
    aligned_mentions,
    read_mentions,
    spanish_words,
    translation_table,
)

FILLER = "The patient was admitted for study. " * 3


def _mention(doc: str, code: str, text: str, position: float) -> Mention:
    return Mention(doc, System.ICD10CM, code, spanish_words(text), position)


def test_mentions_are_read_with_their_place_in_the_original(tmp_path: Path) -> None:
    (tmp_path / "train" / "text_files").mkdir(parents=True)
    (tmp_path / "train" / "text_files" / "d1.txt").write_text("x" * 100, encoding="utf-8")
    (tmp_path / "train" / "trainX.tsv").write_text(
        "d1\tDIAGNOSTICO\tR52\tDolor abdominal\t50 65\n"
        "d1\tPROCEDIMIENTO\tbw03zzz\tRx de tórax\t10 21\n"
        "d2\tDIAGNOSTICO\tr50.9\tfiebre\t0 6\n",  # not asked for
        encoding="utf-8",
    )
    mentions = read_mentions(tmp_path, "train", ["d1"])
    assert [(m.system, m.code, m.words, m.position) for m in mentions] == [
        (System.ICD10CM, "r52", ("dolor", "abdominal"), 0.5),
        (System.ICD10PCS, "bw03zzz", ("rx", "torax"), 0.1),  # accents and stop words gone
    ]


def test_a_malformed_line_or_a_missing_original_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "train" / "text_files").mkdir(parents=True)
    (tmp_path / "train" / "trainX.tsv").write_text("d1\tDIAGNOSTICO\tr52\n", encoding="utf-8")
    with pytest.raises(CacError, match="line 1"):
        read_mentions(tmp_path, "train", ["d1"])
    (tmp_path / "train" / "trainX.tsv").write_text(
        "d1\tDIAGNOSTICO\tr52\tdolor\t0 5\n", encoding="utf-8"
    )
    with pytest.raises(CacError, match="original not found"):
        read_mentions(tmp_path, "train", ["d1"])


def _corpus() -> tuple[list[Mention], dict[str, str]]:
    """Eighteen notes, six each saying "pain", "fever" and "cough" where their Spanish originals
    say "dolor", "fiebre" and "tos", among words that every note has."""
    texts, mentions = {}, []
    sites = ("chest", "abdominal", "lumbar", "thoracic", "knee", "neck")
    for spanish, english, code in (
        ("dolor", "pain", "r52"),
        ("fiebre", "fever", "r50.9"),
        ("tos", "cough", "r05"),
    ):
        for i, site in enumerate(sites):
            doc = f"{code}-{i}"
            texts[doc] = f"{FILLER}She had {site} {english}. {FILLER}"
            mentions.append(_mention(doc, code, f"{spanish} {site}", 0.5))
    return mentions, texts


def test_word_translations_are_learned_from_where_mentions_fall() -> None:
    mentions, texts = _corpus()
    table = translation_table(mentions, texts)
    assert (table["dolor"], table["fiebre"], table["tos"]) == ("pain", "fever", "cough")
    assert "patient" not in table.values()  # in every window: no lift


def test_a_mention_aligns_to_its_translation_or_to_a_cognate() -> None:
    mentions, texts = _corpus()
    table = translation_table(mentions, texts)
    assert align(mentions[1], texts["r52-1"], table) == "abdominal pain"
    note = f"{FILLER}Progressive paraparesis of both legs. {FILLER}"
    assert align(_mention("x", "g82.20", "paraparesia", 0.5), note, table) == "paraparesis"
    assert align(_mention("x", "r21", "exantema", 0.5), note, table) is None


def test_aligned_mentions_group_phrases_by_code() -> None:
    mentions, texts = _corpus()
    found = aligned_mentions(mentions, texts)
    assert "chest pain" in found[(System.ICD10CM, "r52")]
    assert len(found[(System.ICD10CM, "r52")]) == 6
    assert "chest cough" in found[(System.ICD10CM, "r05")]
