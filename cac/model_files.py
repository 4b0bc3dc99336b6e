"""Where the model files of one models folder are: the repository's ``models/``, or the folder
``CAC_MODELS_DIR`` names (a wheel install, a Spark executor, a container)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cac.config import get_settings

# The repository's models/ beside the source tree: training writes here (a checkout only).
SOURCE_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class ModelFiles:
    """The files of one models folder; each may be absent (the coder then does without it,
    except for the lexicon)."""

    root: Path

    @classmethod
    def configured(cls) -> ModelFiles:
        """The settings' folder: ``CAC_MODELS_DIR``, else the checkout's ``models/``, else
        ``$CAC_HOME/models`` (:attr:`cac.config.Settings.models`)."""
        return cls(get_settings().models)

    @property
    def lexicon(self) -> Path:
        return self.root / "lexicon.json.gz"

    @property
    def priors(self) -> Path:
        return self.root / "code_priors.json"

    @property
    def stated_precision(self) -> Path:
        return self.root / "stated_precision.json"

    @property
    def mention(self) -> Path:
        return self.root / "mention"

    @property
    def ranker(self) -> Path:
        return self.root / "ranker"

    @property
    def biencoder(self) -> Path:
        return self.root / "biencoder"
