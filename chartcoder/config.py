"""Runtime settings: the one place that reads environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chartcoder.nlp.bounds import DEFAULT_MAX_LINE_BREAKS, DEFAULT_MAX_RUN_CHARS, DEFAULT_MAX_SYMBOL_RUN

_REPO = Path(__file__).resolve().parents[1]


def _default_cms_dir() -> Path | None:
    """The CMS index files beside the checkout (`../shared/data/cms`) when they are there."""
    for candidate in (_REPO.parent / "shared" / "data" / "cms",):
        if candidate.is_dir():
            return candidate
    return None


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
    nlp_max_run_chars: int = Field(
        DEFAULT_MAX_RUN_CHARS,
        ge=16,
        description="A run of non-space characters (a row of '=', a digit string, a pasted blob) longer than this "
        "is read in pieces of this length: every (N+1)-th character of the run is read as a space. Offsets and "
        "evidence stay those of the sent text. Bounds the tokenizer's work, which grows with the square of a run.",
    )
    nlp_max_symbol_run: int = Field(
        DEFAULT_MAX_SYMBOL_RUN,
        ge=3,
        description="A run of symbols (not letters, digits or spaces: '=', '*', '-', '_') longer than this keeps "
        "its first N characters; the rest are read as spaces. Each symbol is a token of its own.",
    )
    nlp_max_line_breaks: int = Field(
        DEFAULT_MAX_LINE_BREAKS,
        ge=2,
        description="Line breaks kept in one run of whitespace (4: a blank line, also with CRLF); the first and "
        "last are kept, those between are read as spaces. Offsets stay those of the sent text.",
    )
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
    cms_dir: Path | None = Field(
        default_factory=_default_cms_dir,
        description="Folder of the CMS ICD-10-CM External Cause Index, Neoplasm Table and Table of Drugs and "
        "Chemicals (icd10cm_{eindex,neoplasm,drug}_YYYY.xml, there or one folder below); without them external "
        "cause, neoplasm-table and drug-table suggestions are off.",
    )
    registry_poll_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="How often each API process checks the model registry for a newly promoted pack (0: never).",
    )
    # Hardening (docs/integration.md, "Limits, logs and metrics"). Rate limits count per caller: a
    # person, a stored API key, or a static key; with memory:// each API process counts on its own.
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Requests per minute per signed-in person or non-EHR API key (0: no limit)."
    )
    rate_limit_ehr_per_minute: int = Field(
        6000, ge=0, description="Requests per minute per API key with the ehr role (0: no limit)."
    )
    rate_limit_burst: int = Field(
        200, ge=0, description="At most this many requests in any one second, per caller (0: no such cap)."
    )
    rate_limit_login_per_minute: int = Field(
        60, ge=0, description="Sign-in attempts per minute from one client address (0: no limit)."
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counts live: memory:// (each process its own) or a `limits` storage URI "
        "such as redis://host:6379 (one budget across processes; needs the redis package).",
    )
    cors_origins: str = Field(
        "", description="Comma-separated browser origins allowed to call the API (CORS); empty: none."
    )
    hsts_seconds: int = Field(
        0, ge=0, description="Send Strict-Transport-Security with this max-age; set it only when served over HTTPS."
    )
    metrics_token: str = Field(
        "", description="Bearer token GET /metrics requires; empty: /metrics answers loopback clients only."
    )
    # CDS Hooks (docs/integration.md): the EHRs trusted to call the services, and the public base URL
    # their JWTs name in `aud` (required when clients are configured).
    cds_clients: Path | None = Field(
        None, description="YAML/JSON file of CDS clients: name, iss, jwks or jwks_url, algorithms (RS384/ES384)."
    )
    cds_base_url: str | None = Field(
        None, description="Public base URL of this server, e.g. https://coding.example.org (the JWT audience)."
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
