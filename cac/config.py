"""The one settings object. Every ``CAC_*`` environment variable is read here and nowhere else."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings, from ``CAC_*`` environment variables (or a ``.env`` file).

    Attributes:
        home: Where built artifacts live (knowledge base, indexes). ``CAC_HOME``, default ``./var``.
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
    """

    model_config = SettingsConfigDict(env_prefix="CAC_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="Directory for built artifacts.")
    hcpcs_file: Path | None = Field(default=None, description="CMS alpha-numeric HCPCS file.")
    cpt_file: Path | None = Field(default=None, description="Licensed CPT code/descriptor file.")
    icd10cm_index_file: Path | None = Field(
        default=None, description="CMS ICD-10-CM Alphabetic Index XML."
    )
    database_url: str | None = Field(default=None, description="Service database URL.")

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
