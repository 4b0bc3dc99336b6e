"""Compact storage for fine-tuned transformer weights: int8 per row, small enough to commit.

Every 2-D float tensor (embeddings, dense layers) is stored as int8 with one float32 scale per
row (``scale = max |row| / 127``); other tensors (biases, LayerNorm) stay float32. Loading
dequantizes back to float32, so inference runs the usual float model. For MiniLM-L6 this is
about 23 MB instead of 90 MB. The weights file sits beside the model's ``config.json`` and
tokenizer files as ``weights.int8.safetensors``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

COMPACT_NAME = "weights.int8.safetensors"
_SCALE = ".__scale__"


def quantize(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """int8 rows with float32 scales for 2-D float tensors; the rest as float32."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        tensor = tensor.detach().to(torch.float32).contiguous()
        if tensor.ndim == 2:
            scale = tensor.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
            out[name] = torch.round(tensor / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[name + _SCALE] = scale.squeeze(1).contiguous()
        else:
            out[name] = tensor
    return out


def dequantize(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state dict back from :func:`quantize`'s output."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in stored.items():
        if name.endswith(_SCALE):
            continue
        scale = stored.get(name + _SCALE)
        out[name] = tensor.to(torch.float32) * scale.unsqueeze(1) if scale is not None else tensor
    return out


def save_compact(state: dict[str, torch.Tensor], directory: Path) -> str:
    """Write the compact weights into ``directory``; returns their SHA-256."""
    path = directory / COMPACT_NAME
    save_file(quantize(state), str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_compact(directory: Path) -> dict[str, torch.Tensor]:
    """The float32 state dict stored in ``directory``."""
    return dequantize(load_file(str(directory / COMPACT_NAME)))


def fingerprint(directory: Path, prefix: str) -> str:
    """``prefix@<sha>``: a short hash of a trained model's config and compact weights."""
    digest = hashlib.sha256()
    for name in ("config.json", COMPACT_NAME):
        path = directory / name
        if path.exists():
            digest.update(path.read_bytes())
    return f"{prefix}@{digest.hexdigest()[:12]}"


def load_trained(directory: Path, auto_class: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Tokenizer and model (in eval mode) of a fine-tuned folder, from the compact weights when
    they are there, else from ``model.safetensors``. ``auto_class`` is a transformers ``Auto*``
    class; ``kwargs`` go to the model's constructor. Raises what transformers raises."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    if (directory / COMPACT_NAME).exists():
        config = AutoConfig.from_pretrained(str(directory), local_files_only=True)
        model = auto_class.from_config(config, **kwargs)
        model.load_state_dict(load_compact(directory))
    else:
        model = auto_class.from_pretrained(str(directory), local_files_only=True, **kwargs)
    model.eval()
    return tokenizer, model
