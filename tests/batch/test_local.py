"""The local engine end to end with the fake coder: bad rows, resumption, deterministic files."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cac.batch.coder import CoderSpec
from cac.batch.runner import BatchProgress, run_batch
from cac.errors import CacError
from tests.batch.conftest import GOOD, PHI
from tests.batch.fake_coder import FACTORY

REPO = Path(__file__).parents[2]
FAKE = CoderSpec(FACTORY)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_bad_rows_go_to_the_errors_file_and_the_rest_completes(
    messy_jsonl: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "out.jsonl"
    summary = run_batch(messy_jsonl, out, workers=2, coder=FAKE, chunk_notes=2)
    rows = _lines(out)
    assert sorted({r["note_id"] for r in rows}) == sorted(i for i, _ in GOOD)
    assert [r["note_id"] for r in rows] == sorted(r["note_id"] for r in rows)
    assert [(r["rank"], r["code"]) for r in rows if r["note_id"] == "n04"] == [
        (1, "J18.9"),
        (2, "J18.9"),
    ]
    errors = _lines(tmp_path / "out.errors.jsonl")
    assert [(e["location"], e["note_id"], e["kind"]) for e in errors] == [
        ("line 2", "empty", "note"),
        ("line 4", None, "input"),
        ("line 5", "latin1", "note"),
        ("line 7", None, "input"),
        ("line 8", "phi", "failure"),
        ("line 10", "n01", "duplicate"),
        ("line 11", "ward", "note"),
    ]
    assert all(e["reason"] for e in errors)
    assert (summary.coded, summary.failed, summary.skipped) == (5, 7, 0)
    assert not (tmp_path / "out.jsonl.parts").exists()
    everything = out.read_text() + (tmp_path / "out.errors.jsonl").read_text() + caplog.text
    assert PHI.split()[0] not in everything and "nobody" not in everything


def test_rerun_skips_what_is_settled(messy_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    run_batch(messy_jsonl, out, workers=1, coder=FAKE)
    first = out.read_bytes(), (tmp_path / "out.errors.parquet").read_bytes()
    seen: list[BatchProgress] = []
    summary = run_batch(messy_jsonl, out, workers=1, coder=FAKE, on_progress=seen.append)
    assert summary.coded == 0 and summary.skipped == 5 + 4  # good notes + settled bad notes
    assert (out.read_bytes(), (tmp_path / "out.errors.parquet").read_bytes()) == first
    assert seen[-1].seen == seen[-1].total == 12


def test_a_run_stopped_midway_and_resumed_equals_an_uninterrupted_one(
    messy_jsonl: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole.parquet"
    run_batch(messy_jsonl, whole, workers=2, coder=FAKE, chunk_notes=2)

    class Stop(Exception):
        pass

    def stop_after_three(progress: BatchProgress) -> None:
        if progress.coded >= 3:
            raise Stop

    resumed = tmp_path / "resumed.parquet"
    with pytest.raises(Stop):
        run_batch(messy_jsonl, resumed, workers=2, coder=FAKE, chunk_notes=2,
                  on_progress=stop_after_three)  # fmt: skip
    assert not resumed.exists() and list((tmp_path / "resumed.parquet.parts").iterdir())
    summary = run_batch(messy_jsonl, resumed, workers=2, coder=FAKE, chunk_notes=2)
    assert summary.skipped > 0
    assert pq.read_table(resumed).equals(pq.read_table(whole))
    assert resumed.read_bytes() == whole.read_bytes()
    errors = [tmp_path / f"{name}.errors.parquet" for name in ("resumed", "whole")]
    assert errors[0].read_bytes() == errors[1].read_bytes()


def test_killed_cli_run_resumes_to_the_same_output(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for n in range(40):
        (notes / f"note{n:02d}.txt").write_text(f"note {n} pneumonia" * (n % 3), encoding="utf-8")
    whole = tmp_path / "whole.parquet"
    run_batch(notes, whole, workers=2, coder=FAKE)

    out = tmp_path / "out.parquet"
    command = [sys.executable, "-c", "from cac.cli.main import app; app()", "batch", str(notes),
               str(out), "--workers", "2", "--chunk", "4", "--coder", FACTORY]  # fmt: skip
    env = {**os.environ, "FAKE_CODER_DELAY": "0.2"}
    run = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    parts = tmp_path / "out.parquet.parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("*.rows.parquet"))) < 2:
        assert run.poll() is None, "the run ended before it could be killed"
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert not out.exists()
    done = pq.read_table(parts).num_rows if parts.exists() else 0
    assert done > 0

    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "already done" in rerun.stdout
    assert out.read_bytes() == whole.read_bytes()


def test_output_of_another_model_is_not_extended(tmp_path: Path, messy_jsonl: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(
        json.dumps({"note_id": "old", "rank": 1, "code": "A00", "model": '{"fake": "0"}'}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(CacError, match="other model versions"):
        run_batch(messy_jsonl, out, workers=1, coder=FAKE)


@pytest.mark.parametrize("name", ["out.csv", "missing/out.parquet"])
def test_unusable_output_paths_raise(tmp_path: Path, messy_jsonl: Path, name: str) -> None:
    with pytest.raises(CacError, match="OUTPUT"):
        run_batch(messy_jsonl, tmp_path / name, coder=FAKE)


def test_a_dead_worker_stops_the_run_with_a_message_and_keeps_finished_chunks(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.jsonl"
    lines = [json.dumps({"id": f"n{i}", "text": "pneumonia"}) for i in range(6)]
    notes.write_text("\n".join([*lines, json.dumps({"id": "x", "text": "die"})]) + "\n")
    out = tmp_path / "out.parquet"
    dying = CoderSpec("tests.batch.fake_coder:build_dying")
    with pytest.raises(CacError, match="worker process died"):
        run_batch(notes, out, workers=1, coder=dying, chunk_notes=2)
    assert pq.read_table(tmp_path / "out.parquet.parts").num_rows > 0
