"""Runtime settings: the one place that reads environment variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chartcoder.domain.errors import ChartcoderError

# The note bounds' defaults (chartcoder/nlp/bounds.py says what each one breaks up).
DEFAULT_MAX_RUN_CHARS = 64
DEFAULT_MAX_LINE_BREAKS = 4
DEFAULT_MAX_SYMBOL_RUN = 8

ENVIRONMENTS = ("development", "production", "test")

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

    environment: Literal["development", "production", "test"] = Field(
        "development",
        description="development | production | test; any other value is an error at start. production turns "
        "the API docs (/docs) off unless docs_enabled says otherwise.",
    )
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
    chart_lock_idle_minutes: int = Field(
        30,
        ge=1,
        description="A chart lock lapses when neither it was taken nor the encounter changed for this many minutes: "
        "a coder who walked away does not keep the chart from others.",
    )
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
    payer_file: Path | None = Field(
        None,
        description="The payer table (CSV payer_id,name,claim_filing); payers it lacks are looked up in the "
        "practice file; a payer in neither is a PAYER_UNKNOWN error, never billed as commercial.",
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
    # Suggestion work (chartcoder/models/pool.py): a pool of worker processes in each API process,
    # queued fairly per caller, each note under a time budget. The defaults suit a 2-core machine.
    suggest_workers: int = Field(
        2,
        ge=0,
        le=64,
        description="Worker processes that code notes for each API process (about one per core; each adds "
        "~100-600 MB beside the API process's ~600 MB, less when forks share memory). 0: code in the API "
        "process itself, without the budget, fair queuing or stopping work when a client goes away.",
    )
    suggest_budget_seconds: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="Longest a note may be coded on a worker; a note over it is stopped and answered 503 "
        "(error suggestion_budget_exceeded). A 200,000-character note of ordinary prose takes ~3 s here.",
    )
    suggest_queue_per_caller: int = Field(
        8,
        ge=1,
        le=10_000,
        description="Notes one caller (person, API key, CDS client) may have queued or being coded at once; "
        "more answer 429 (error suggestion_queue_full).",
    )
    suggest_queue_wait_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Longest a note may wait for a free worker before it is answered 503 "
        "(error suggestion_queue_timeout).",
    )
    suggest_heavy_note_chars: int = Field(
        20_000,
        ge=1,
        description="Notes this long or longer are heavy: they run on at most one fewer worker than "
        "CHARTCODER_SUGGEST_WORKERS (at least one), so a worker stays free for ordinary notes.",
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
    # Sign-in, addresses, files and defaults (docs/integration.md, "Sign-in limits" and "Defaults").
    # A failed sign-in is counted three ways: per (account, address) pair, per account, per address.
    # Past its free failures a pair or account waits 1, 2, 4, ... s (capped) before the next password
    # is even checked; the account and address limits spare an address that signed in to that account
    # before, so a stranger elsewhere cannot keep a person out.
    signin_pair_free_failures: int = Field(
        5, ge=1, description="Failed sign-ins of one account from one address before that pair must wait."
    )
    signin_account_free_failures: int = Field(
        20,
        ge=1,
        description="Failed sign-ins of one account from all addresses together before addresses that never "
        "signed in to it must wait.",
    )
    signin_max_backoff_seconds: int = Field(
        900, ge=1, le=86_400, description="The longest wait the exponential back-off asks for (1, 2, 4, ... s)."
    )
    signin_failure_memory_seconds: int = Field(
        86_400, ge=60, description="How long failed sign-ins are remembered, from the first one counted."
    )
    signin_known_address_days: int = Field(
        30,
        ge=0,
        description="An address that signed in to an account within this many days is spared that account's "
        "and the address's own limits (0: no address is spared).",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For / "
        "X-Forwarded-Proto are believed; empty: none, not even loopback.",
    )
    plain_http: bool = Field(
        False,
        description="Development only: the session cookie without Secure, for a browser on http:// that is not "
        "localhost. Refused with environment=production.",
    )
    docs_enabled: bool | None = Field(
        None,
        description="Serve the OpenAPI docs (/docs, /openapi.json; Swagger UI from the app's own files); "
        "default: on, except in production.",
    )
    # Model pack trust (docs/models.md, "Signed packs"). A pack holds pickled objects: it is loaded only
    # when its manifest is signed by a trusted Ed25519 key, and a promotion is smoke-tested first.
    pack_signing_key: Path | None = Field(
        None,
        description="The Ed25519 private key (PEM) `chartcoder train` and `chartcoder models sign` sign packs "
        "with; made on first use, readable only by its owner. Default ~/.config/chartcoder/pack-signing.key.",
    )
    trusted_pack_keys: str = Field(
        "",
        description="Public keys whose packs are loaded, comma-separated: 'ssh-ed25519 AAAA...' lines (`chartcoder "
        "models key` prints one) or files of them. The server's own key (data_dir/pack-signing.key, which signs "
        "the default pack it builds) is always trusted.",
    )
    trust_local_signing_key: bool = Field(
        True,
        description="Also trust this user's own signing key (pack_signing_key), so packs trained on this machine "
        "by the user the server runs as load without configuration; false: only the server's key and "
        "trusted_pack_keys.",
    )
    promotion_smoke_seconds: float = Field(
        180.0,
        gt=0,
        le=3600,
        description="Time a promotion's smoke test (load the pack in a child process, rank known notes) may take.",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",") if p.strip()):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or CIDR network; list the addresses of your reverse "
                    "proxies, e.g. 127.0.0.1,10.0.0.0/24"
                ) from None
        return value

    @field_validator(
        "cpt_file", "hcpcs_file", "practice_file", "payer_file", "fee_schedule_file", "mue_file", "cds_clients"
    )
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            what = "is a folder, not a file" if value.is_dir() else "does not exist"
            raise ValueError(f"{str(value)!r} {what}; name an existing file or leave the setting unset")
        return value

    @field_validator("ncci_ptp_files")
    @classmethod
    def _files_exist(cls, value: str) -> str:
        missing = [f for f in (p.strip() for p in value.split(",")) if f and not Path(f).is_file()]
        if missing:
            raise ValueError(
                f"{', '.join(repr(f) for f in missing)} not found; list existing CMS NCCI PTP files, comma-separated"
            )
        return value

    @field_validator("cms_dir")
    @classmethod
    def _dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{str(value)!r} is not an existing folder; name the folder of the CMS index files")
        return value

    @model_validator(mode="after")
    def _no_plain_http_in_production(self) -> Settings:
        if self.plain_http and self.environment == "production":
            raise ValueError(
                "CHARTCODER_PLAIN_HTTP=true is for development only: production serves the session cookie "
                "with Secure (put TLS in front, or set CHARTCODER_ENVIRONMENT=development)"
            )
        return self

    @property
    def docs_on(self) -> bool:
        return self.docs_enabled if self.docs_enabled is not None else self.environment != "production"

    @property
    def secure_cookies(self) -> bool:
        return not self.plain_http

    @property
    def proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def api_key_file(self) -> Path:
        return self.data_dir / "api-key"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'chartcoder.db'}"


class SettingsError(ChartcoderError, ValueError):
    """A CHARTCODER_* variable holds a value chartcoder does not accept; the message names it and
    says what is allowed."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with a readable error naming the variable when one is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            name = "CHARTCODER_" + "_".join(str(p) for p in e.get("loc", ())).upper()
            msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
            if e.get("type") == "literal_error" and e.get("loc") == ("environment",):
                msg = f"{e.get('input')!r} is not one of {', '.join(ENVIRONMENTS)}"
            problems.append(f"{name}: {msg}" if e.get("loc") else msg)
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
