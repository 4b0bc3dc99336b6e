from __future__ import annotations

from pathlib import Path

import torch

from cac.nlp.compact import COMPACT_NAME, dequantize, load_compact, quantize, save_compact


def test_round_trip_error_is_within_half_a_step_per_row(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = {"dense.weight": torch.randn(8, 16) * 3, "dense.bias": torch.randn(16)}
    stored = quantize(state)
    assert stored["dense.weight"].dtype == torch.int8
    assert torch.equal(stored["dense.bias"], state["dense.bias"])  # 1-D tensors stay exact
    back = dequantize(stored)
    step = state["dense.weight"].abs().amax(dim=1, keepdim=True) / 127
    assert bool(((back["dense.weight"] - state["dense.weight"]).abs() <= step / 2 + 1e-6).all())
    save_compact(state, tmp_path)
    assert (tmp_path / COMPACT_NAME).exists()
    loaded = load_compact(tmp_path)
    assert set(loaded) == set(state)
    assert torch.allclose(loaded["dense.weight"], back["dense.weight"])
