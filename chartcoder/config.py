"""Runtime settings: the one place that reads environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of chartcoder, read from `CHARTCODER_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CHARTCODER_", env_file=None, extra="ignore")

    environment: str = Field("development", description="development | production")
    data_dir: Path = Field(Path("var"), description="Where the database, caches and keys live.")
    model_dir: Path = Field(Path("models"), description="Where trained model packs live.")
    model: str = Field(
        "default",
        description="The pack to serve: a pack folder, or a pack name under model_dir; 'knowledge' for the "
        "guideline engine alone.",
    )
    default_pack_notes: int = Field(
        2000, ge=50, description="Synthetic notes the default pack is trained on when `serve` builds it."
    )
    min_score: float = Field(
        0.05, ge=0.0, le=1.0, description="Learned-pack suggestions scoring below this are not returned."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL; default a SQLite file in data_dir.")
    max_note_chars: int = Field(200_000, ge=1, description="Longest note text accepted, in characters.")
    max_top_k: int = Field(100, ge=1)
    default_top_k: int = Field(20, ge=1)
    api_keys: str = Field(
        "",
        description="Comma-separated API keys accepted besides the local key file (data_dir/api-key).",
    )
    cpt_file: Path | None = Field(
        None, description="A licensed CPT file (CSV code,description) loaded over our demo set."
    )
    hcpcs_file: Path | None = Field(None, description="The CMS HCPCS file (fixed-width ANWEB text or its CSV).")
    practice_file: Path | None = Field(
        None, description="Practice settings for claims (YAML); default the shipped sample practice."
    )
    fee_schedule_file: Path | None = Field(
        None, description="The practice's fee schedule (CSV code,modifier,charge); default the shipped sample."
    )
    ncci_ptp_files: str = Field(
        "", description="Comma-separated CMS NCCI practitioner PTP files; without them the PTP edit finds nothing."
    )
    mue_file: Path | None = Field(
        None, description="The CMS practitioner MUE file; without it the MUE edit finds nothing."
    )
    registry_poll_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="How often each API process checks the model registry for a newly promoted pack (0: never).",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def api_key_file(self) -> Path:
        return self.data_dir / "api-key"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'chartcoder.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
