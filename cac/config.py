"""The one settings object. Every ``CAC_*`` environment variable is read here and nowhere else."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PACKAGE = Path(__file__).resolve().parent


def source_checkout() -> Path | None:
    """The repository the package runs from (an editable install or a checkout on the path),
    or None for an installed wheel: the folder above ``cac/`` when it holds cac's
    ``pyproject.toml``."""
    root = _PACKAGE.parent
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "cac"' in project.read_text(encoding="utf-8"):
        return root
    return None


def default_home() -> Path:
    """``CAC_HOME`` when unset: ``var/`` of the source checkout the package runs from, else the
    user data folder (``$XDG_DATA_HOME/cac``, by default ``~/.local/share/cac``). Never the
    working directory: every command finds the same knowledge base and database."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / "var"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "cac"


def default_models_dir(home: Path) -> Path:
    """The models folder when ``CAC_MODELS_DIR`` is unset: ``models/`` of the source checkout,
    else ``$CAC_HOME/models``."""
    checkout = source_checkout()
    if checkout is not None and (checkout / "models").is_dir():
        return checkout / "models"
    return home / "models"


class Settings(BaseSettings):
    """Runtime settings, from ``CAC_*`` environment variables (or a ``.env`` file).

    Attributes:
        home: Where built artifacts live (knowledge base, indexes, the SQLite database).
            ``CAC_HOME``; a relative path is resolved against the working directory once, when
            the settings are read; default :func:`default_home`.
        models_dir: The model files (lexicon, priors, tagger, ranker, bi-encoder: the
            repository's ``models/``). ``CAC_MODELS_DIR``, default :func:`default_models_dir`.
            A registry ``champion`` still wins over these files (``cac.registry``).
        hcpcs_file: A CMS annual alpha-numeric HCPCS file to use instead of the vendored 2020 file.
            ``CAC_HCPCS_FILE``.
        cpt_file: A licensed CPT file (tab-separated ``code<TAB>descriptor``, see
            ``cac.codesets.cpt``). Without it only the built-in demo set is used. ``CAC_CPT_FILE``.
        icd10cm_index_file: A CMS ICD-10-CM Alphabetic Index XML (``icd10cm-index-*.xml``);
            its entries become terms the conventions' specificity matcher reads
            (``cac.coding.index_terms``). It is not vendored. ``CAC_ICD10CM_INDEX_FILE``.
        database_url: SQLAlchemy URL of the service database (notes, suggestions, decisions,
            audit, API keys), e.g. ``postgresql://user:pass@host/cac``. ``CAC_DATABASE_URL``,
            default an SQLite file ``$CAC_HOME/cac.sqlite3``.
        session_secret: The key that signs workbench session cookies. ``CAC_SESSION_SECRET``;
            every process behind one load balancer needs the same one. Default: a random
            secret kept in ``$CAC_HOME/session.secret`` (created on first use, mode 0600).
        session_hours: How long a workbench sign-in lasts. ``CAC_SESSION_HOURS``, default 8.
    """

    model_config = SettingsConfigDict(env_prefix="CAC_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="Directory for built artifacts.")
    models_dir: Path | None = Field(default=None, description="Directory of the model files.")
    hcpcs_file: Path | None = Field(default=None, description="CMS alpha-numeric HCPCS file.")
    cpt_file: Path | None = Field(default=None, description="Licensed CPT code/descriptor file.")
    icd10cm_index_file: Path | None = Field(
        default=None, description="CMS ICD-10-CM Alphabetic Index XML."
    )
    database_url: str | None = Field(default=None, description="Service database URL.")
    session_secret: SecretStr | None = Field(
        default=None, description="Signs workbench session cookies."
    )
    session_hours: float = Field(
        default=8.0, gt=0, le=24 * 7, description="Lifetime of a workbench session."
    )

    @field_validator("home", "models_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def models(self) -> Path:
        """Directory of the model files: ``CAC_MODELS_DIR``, else :func:`default_models_dir`."""
        return self.models_dir or default_models_dir(self.home)

    @property
    def kb_dir(self) -> Path:
        """Directory of the compiled knowledge base."""
        return self.home / "kb"

    @property
    def database(self) -> str:
        """The service database URL: ``CAC_DATABASE_URL``, else SQLite under ``CAC_HOME``."""
        return self.database_url or f"sqlite:///{(self.home / 'cac.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
