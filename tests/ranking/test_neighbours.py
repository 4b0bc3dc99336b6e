"""The coded-note memory: votes from similar notes, persistence, and the ranking features."""

from __future__ import annotations

from pathlib import Path

import pytest

from cac.codesets.records import System
from cac.errors import CacError
from cac.ranking.features import FEATURES, CodeCandidate, NoteContext, feature_matrix
from cac.ranking.neighbours import NoteNeighbours, terms

HTN = (System.ICD10CM, "I10")
DM = (System.ICD10CM, "E119")
FX = (System.ICD10CM, "S2239XA")
CHOLE = (System.ICD10PCS, "0FT44ZZ")

NOTES = [
    ("elderly man with hypertension and diabetes on metformin and enalapril", [HTN, DM]),
    ("woman with hypertension treated with enalapril, blood pressure controlled", [HTN]),
    ("fall from stairs with rib fracture, chest pain on breathing, analgesia", [FX]),
    ("gallstones with biliary colic, laparoscopic cholecystectomy performed", [CHOLE]),
    ("biliary colic and gallstones; cholecystectomy without complications", [CHOLE]),
]


@pytest.fixture()
def memory() -> NoteNeighbours:
    return NoteNeighbours.build(NOTES, k=2, min_df=2)


def test_terms_are_words_and_pairs_without_stop_words() -> None:
    assert terms("The Rib fracture, 2 ribs") == [
        "rib",
        "fracture",
        "ribs",
        "rib fracture",
        "fracture ribs",
    ]


def test_votes_come_from_the_most_similar_notes(memory: NoteNeighbours) -> None:
    votes = memory.votes("a new patient with biliary colic due to gallstones")
    assert set(votes) == {CHOLE}
    assert votes[CHOLE].votes == 2
    assert votes[CHOLE].share == pytest.approx(1.0)


def test_share_is_weighted_by_similarity() -> None:
    memory = NoteNeighbours.build(NOTES, k=2, min_df=1)
    votes = memory.votes("hypertension and diabetes, metformin and enalapril continued")
    assert votes[HTN].votes == 2 and votes[DM].votes == 1
    assert votes[HTN].share == pytest.approx(1.0)
    assert 0.5 < votes[DM].share < 1.0  # the diabetic note is the nearer of the two
    assert votes[DM].nearest >= votes[HTN].nearest - 1e-6


def test_an_unrelated_note_gets_no_votes(memory: NoteNeighbours) -> None:
    assert memory.votes("zzz qqq") == {}
    assert NoteNeighbours.build([]).votes("hypertension") == {}


def test_words_of_a_single_note_are_not_stored() -> None:
    memory = NoteNeighbours.build(NOTES, min_df=2)
    assert "metformin" not in memory.vocabulary  # in one note only
    assert "hypertension" in memory.vocabulary


def test_save_and_load_give_the_same_votes(memory: NoteNeighbours, tmp_path: Path) -> None:
    memory.save(tmp_path / "m")
    loaded = NoteNeighbours.load(tmp_path / "m")
    note = "rib fracture after a fall, chest pain"
    assert loaded.votes(note) == memory.votes(note)
    assert len(loaded) == len(NOTES) and loaded.k == 2


def test_a_broken_memory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "neighbours.json").write_text("{}")
    with pytest.raises(CacError, match="neighbour memory"):
        NoteNeighbours.load(tmp_path / "m")


def test_votes_become_features(memory: NoteNeighbours) -> None:
    votes = memory.votes("hypertension and diabetes, metformin and enalapril continued")
    candidates = [CodeCandidate(*HTN), CodeCandidate(System.ICD10CM, "J45909")]
    rows = feature_matrix(candidates, NoteContext(100, frozenset(), votes), {}, {})
    share, count = FEATURES.index("knn_share"), FEATURES.index("knn_votes")
    assert rows[0, share] == pytest.approx(1.0) and rows[0, count] == 2
    assert rows[1, share] == 0 and rows[1, count] == 0


def test_vote_order_does_not_depend_on_the_hash_seed() -> None:
    """Candidates follow the votes' order, and tied features (rank in the note) follow the
    candidates: the order must be the same in every process (Spark workers, batch workers)."""
    import os
    import subprocess
    import sys

    script = (
        "from cac.codesets.records import System\n"
        "from cac.ranking.neighbours import NoteNeighbours\n"
        "codes = [(System.ICD10CM, c) for c in ('I10', 'E119', 'J189', 'N183', 'R52', 'K219')]\n"
        "m = NoteNeighbours.build([('fever and cough', codes), ('fever and rash', codes[:3])])\n"
        "print([c for _, c in m.votes('fever')])\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(outputs) == 1
