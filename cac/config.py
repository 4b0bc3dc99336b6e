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
    """

    model_config = SettingsConfigDict(env_prefix="CAC_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="Directory for built artifacts.")
    hcpcs_file: Path | None = Field(default=None, description="CMS alpha-numeric HCPCS file.")
    cpt_file: Path | None = Field(default=None, description="Licensed CPT code/descriptor file.")

    @property
    def kb_dir(self) -> Path:
        """Directory of the compiled knowledge base."""
        return self.home / "kb"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
