"""One typed settings object, read from the environment (and `.env`).

Every field's description is its documentation; `.env.example` lists them all.
Outside development, placeholder secrets are refused at start-up.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "minioadmin", "mlops", "admin", "dev-api-key"}
MIN_SECRET_LENGTH = 16  # production refuses shorter secrets (API_KEY, the S3 secret, a database password)


# --- settings of single components, grouped by env prefix; each is also a field of Settings ----------


class PipelineSettings(BaseSettings):
    """Retraining pipeline: which pairs, where from, and when to retrain (env prefix `PIPELINE_`)."""

    model_config = SettingsConfigDict(env_prefix="PIPELINE_", env_file=".env", extra="ignore")

    symbols: str = Field("", description="Comma-separated pairs the pipeline ingests (default: DEFAULT_SYMBOL).")
    source: str | None = Field(None, description="ccxt | csv | synthetic (default: DATA_SOURCE).")
    csv_dir: Path | None = Field(
        None,
        description="Folder with one CSV per pair (name contains the slug, e.g. Binance_BTCUSDT_1h.csv); "
        "used when source=csv and a pair has no explicit file.",
    )
    initial_bars: int = Field(
        24 * 365, ge=100, description="Candles fetched on a first ccxt/synthetic extract (no stored history)."
    )
    context_bars: int = Field(
        720,
        ge=50,
        description="Stored candles validated together with the new ones (gap at the seam, warm-up).",
    )
    min_new_hours: float = Field(
        24.0,
        gt=0,
        description="Retrain when at least this many hours of new candles arrived since the last training.",
    )
    drift_window_hours: float = Field(
        72.0, gt=0, description="Recent window whose realized volatility is compared with the training data."
    )
    drift_ratio: float = Field(
        1.5,
        gt=1,
        description="Retrain early when recent vol / training vol is above this or below its inverse.",
    )
    drift_min_new_hours: float = Field(
        6.0, gt=0, description="Drift alone triggers a retrain only with at least this many new hours."
    )
    notify_timeout_s: float = Field(10.0, gt=0, description="Timeout of the API reload request.")

    @field_validator("symbols")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def symbol_list(self, default: str) -> list[str]:
        raw = [item.strip() for item in self.symbols.split(",") if item.strip()]
        return raw or [default]


class TrainingSettings(BaseSettings):
    """How the pipeline trains (env prefix `PIPELINE_TRAIN_`)."""

    model_config = SettingsConfigDict(env_prefix="PIPELINE_TRAIN_", env_file=".env", extra="ignore")

    candidate: str = Field("bilstm", description="Model trained as the challenger (a zoo name).")
    profile: str = Field("default", description="BiLSTM config: default | tiny (seconds; tests, demos).")
    max_bars: int = Field(0, ge=0, description="Train on the newest N candles only (0 = all history).")
    max_seconds: float | None = Field(None, description="Stop BiLSTM training after this many seconds.")
    train_frac: float = Field(0.7, gt=0.3, lt=0.95, description="Share of the candles used for fitting.")
    pooled: bool = Field(
        False,
        description="With 2+ pairs: train ONE model of `candidate` (har_x | har_xsq | bilstm) over all the run's "
        "pairs, then gate and promote it per pair (champion-<pair>); false: one model per pair.",
    )


class StackSettings(BaseSettings):
    """Supervisor-only settings (env prefix `STACK_`); app ports come from the main Settings."""

    model_config = SettingsConfigDict(env_prefix="STACK_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".stack"), description="State, logs and (full mode) server data.")
    start_timeout_s: float = Field(180.0, description="How long a component may take to become healthy.")
    background_train: bool = Field(True, description="Run `pipeline run` in the background after start.")
    serving: Literal["one", "split"] = Field(
        "one",
        description="one: REST, both GraphQL ports and gRPC in one process (`serve all`, one model in memory); "
        "split: one process each (`serve api|graphql|grpc`), as when API_WORKERS > 1.",
    )
    exchange_probe_timeout_s: float = Field(3.0, description="Timeout of the 'is the exchange reachable' probe.")
    postgres_port: int = Field(5433, description="PostgreSQL port (full mode).")
    s3_port: int = Field(8333, description="SeaweedFS S3 port (full mode).")
    airflow_port: int = Field(8080, description="Airflow API/UI port (full mode).")
    s3_access_key: str = Field("stack-admin", description="SeaweedFS access key (full mode, loopback only).")
    s3_secret_key: str = Field("stack-admin-secret", description="SeaweedFS secret key (full mode).")
    max_restarts: int = Field(5, ge=0, description="Restarts of a crashed component in one streak before it is failed.")
    restart_backoff_s: float = Field(1.0, gt=0, description="Wait before the first restart; doubles each time.")
    restart_max_backoff_s: float = Field(30.0, gt=0, description="Longest wait between two restarts.")
    restart_stable_s: float = Field(
        60.0, gt=0, description="Up this long, a component's next crash starts a new streak."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    # --- general -------------------------------------------------------------------------
    environment: Literal["development", "test", "production"] = Field(
        "development",
        alias="ENV",
        description="development | test | production; production refuses placeholder secrets and secrets "
        f"shorter than {MIN_SECRET_LENGTH} characters, but only for the parts that are configured "
        "(API_KEY always; AWS_SECRET_ACCESS_KEY when MLFLOW_S3_ENDPOINT_URL is set; the password of a "
        "DATABASE_URL that has one).",
    )
    data_dir: Path = Field(
        Path("data"),
        alias="DATA_DIR",
        description="Local data directory; holds the bucket layout (raw-data/, processed-data/, ...) "
        "when S3 is not configured.",
    )
    log_level: str = Field("INFO", alias="LOG_LEVEL", description="Python logging level.")
    api_access_log: bool = Field(
        False,
        alias="API_ACCESS_LOG",
        description="One log line per HTTP request. Off by default: it costs a measurable share of a cached "
        "answer, and request counts are in /metrics anyway.",
    )
    gc_freeze: bool = Field(
        False,
        alias="GC_FREEZE",
        description="Freeze the warm heap after start-up so full garbage collections skip it (keeps ~0.3 s "
        "pauses off requests). `crypto-mlops serve` turns it on; library use leaves it off.",
    )

    # --- market data ---------------------------------------------------------------------
    default_symbol: str = Field("BTC/USDT", alias="DEFAULT_SYMBOL", description="Pair used when none is given.")
    pairs: str = Field(
        "BTC/USDT,ETH/USDT,SOL/USDT",
        alias="PAIRS",
        description="Comma-separated pairs the system follows: the screener's and the dashboard selector's list, "
        "the SSE feed's default, and what `stream produce` sends when --symbols is not given.",
    )
    default_timeframe: str = Field(
        "1h", alias="DEFAULT_TIMEFRAME", description="Candle timeframe used when none is given."
    )
    data_source: Literal["ccxt", "csv", "synthetic"] = Field(
        "ccxt",
        alias="DATA_SOURCE",
        description="Where candles come from: ccxt (exchange), csv (DATA_CSV_PATH) or synthetic.",
    )
    data_csv_path: Path | None = Field(None, alias="DATA_CSV_PATH", description="CSV file used when DATA_SOURCE=csv.")
    exchange: str = Field("binance", alias="EXCHANGE", description="ccxt exchange id.")
    exchange_timeout_s: float = Field(10.0, alias="EXCHANGE_TIMEOUT_S", description="Per-request exchange timeout (s).")
    exchange_max_retries: int = Field(3, alias="EXCHANGE_MAX_RETRIES", description="Retries with exponential backoff.")
    synthetic_seed: int = Field(42, alias="SYNTHETIC_SEED", description="Seed of the synthetic market simulator.")
    ohlcv_cache_ttl_s: float = Field(
        60.0, alias="OHLCV_CACHE_TTL_S", description="How long cached candles count as fresh (s)."
    )

    # --- object storage (S3 / MinIO / SeaweedFS) -----------------------------------------
    s3_endpoint_url: str | None = Field(
        None,
        alias="MLFLOW_S3_ENDPOINT_URL",
        description="S3 endpoint (MinIO/SeaweedFS). When set, buckets live in S3; otherwise under DATA_DIR.",
    )
    aws_access_key_id: str | None = Field(None, alias="AWS_ACCESS_KEY_ID", description="S3 access key.")
    aws_secret_access_key: str | None = Field(None, alias="AWS_SECRET_ACCESS_KEY", description="S3 secret key.")
    aws_region: str = Field("us-east-1", alias="AWS_DEFAULT_REGION", description="S3 region.")
    bucket_prefix: str = Field("", alias="BUCKET_PREFIX", description="Optional prefix for every bucket name.")

    # --- MLflow --------------------------------------------------------------------------
    mlflow_tracking_uri: str = Field(
        "sqlite:///mlflow.db",
        alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking URI: sqlite:///mlflow.db (embedded) or http://127.0.0.1:5000.",
    )
    mlflow_experiment: str = Field("crypto-volatility", alias="MLFLOW_EXPERIMENT", description="Experiment name.")
    model_name: str = Field("crypto-predictor", alias="MODEL_NAME", description="Registered model name.")
    model_alias: str = Field("champion", alias="MODEL_ALIAS", description="Alias served by the API.")
    model_engine: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        alias="MODEL_ENGINE",
        description="What runs a served BiLSTM's net. auto: ONNX Runtime when the model has net.onnx and onnxruntime "
        "is installed, else torch; onnx: ONNX Runtime, or a refusal naming the fix (pip install 'crypto-mlops[onnx]', "
        "register the model again); torch: torch. Other models load the same under every engine.",
    )

    # --- database (history) --------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///data/history.db",
        alias="DATABASE_URL",
        description="SQLAlchemy URL for signal/prediction history (SQLite file or postgresql+psycopg://...).",
    )

    # --- serving ---------------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", alias="API_HOST", description="Bind address of the REST API.")
    api_port: int = Field(8800, alias="API_PORT", description="REST API / UI / GraphQL port.")
    graphql_port: int = Field(4000, alias="GRAPHQL_PORT", description="Standalone GraphQL port.")
    grpc_port: int = Field(50051, alias="GRPC_PORT", description="gRPC port.")
    api_workers: int = Field(
        1,
        alias="API_WORKERS",
        ge=1,
        description="Uvicorn worker processes of `serve api` (REST). Each worker holds its own model and candle "
        "cache; more than 1 only pays on a machine with cores to spare.",
    )
    mlflow_port: int = Field(5000, alias="MLFLOW_PORT", description="MLflow UI port (embedded stack).")
    api_key: str = Field(
        "dev-api-key",
        alias="API_KEY",
        description="Key required by admin endpoints (X-API-Key header); in production at least "
        f"{MIN_SECRET_LENGTH} characters and not a placeholder.",
    )
    api_url: str = Field(
        "http://127.0.0.1:8800", alias="API_URL", description="Where the pipeline reaches the API to ask for a reload."
    )

    signal_memo: bool = Field(
        True,
        alias="SIGNAL_MEMO",
        description="Reuse heuristic and model outputs while the candles they came from are unchanged "
        "(per cache fetch and model). 0 recomputes on every request (benchmarks).",
    )
    model_poll_s: float = Field(
        60.0,
        alias="MODEL_POLL_S",
        ge=0,
        description="How often each serving process checks the registry for a new champion and reloads it "
        "(API, GraphQL and gRPC run as separate processes; the pipeline only calls the API's reload). 0 = never.",
    )
    prediction_feed: Literal["auto", "kafka", "periodic"] = Field(
        "auto",
        alias="PREDICTION_FEED",
        description="SSE live feed: auto = the Kafka `predictions` topic when the broker answers, else periodic.",
    )
    prediction_feed_interval_s: float = Field(
        5.0, alias="PREDICTION_FEED_INTERVAL_S", gt=0, description="Period of the in-process feed (s)."
    )

    # --- serving limits (docs/serving.md, "Limits") -------------------------------------------
    max_body_bytes: int = Field(
        16 * 1024,
        alias="MAX_BODY_BYTES",
        ge=1024,
        description="Largest request body (bytes) on the API and the standalone GraphQL server; larger = 413, "
        "with or without Content-Length.",
    )
    ohlcv_cache_max_entries: int = Field(
        256,
        alias="OHLCV_CACHE_MAX_ENTRIES",
        ge=1,
        description="Candle cache: most (pair, timeframe, exchange) keys kept; the least recently used goes first.",
    )
    ohlcv_cache_max_mb: float = Field(
        256.0,
        alias="OHLCV_CACHE_MAX_MB",
        gt=0,
        description="Candle cache: most megabytes of candles kept (least recently used evicted first).",
    )
    rate_limit_per_min: float = Field(
        120.0,
        alias="RATE_LIMIT_PER_MIN",
        ge=0,
        description="Heavy calls per client address and minute (REST ml-signal, compare, chart; GraphQL: one per "
        "ohlcvData, compareSignals, generateSignal, generateMlSignal field); beyond it 429 with Retry-After. "
        "0 = no limit.",
    )
    rate_limit_burst: int = Field(
        30, alias="RATE_LIMIT_BURST", ge=1, description="Heavy calls a client may make at once before the rate applies."
    )
    graphql_max_depth: int = Field(
        8, alias="GRAPHQL_MAX_DEPTH", ge=2, description="Deepest GraphQL selection (introspection not counted)."
    )
    graphql_max_aliases: int = Field(
        15, alias="GRAPHQL_MAX_ALIASES", ge=0, description="Most aliases in one GraphQL document."
    )
    graphql_max_tokens: int = Field(
        2000, alias="GRAPHQL_MAX_TOKENS", ge=100, description="Most tokens in one GraphQL document."
    )
    graphql_max_service_calls: int = Field(
        10,
        alias="GRAPHQL_MAX_SERVICE_CALLS",
        ge=1,
        description="Cost rule: most service calls (root fields such as ohlcvData, generateMlSignal) "
        "in one GraphQL operation.",
    )
    graphql_workers: int = Field(
        4,
        alias="GRAPHQL_WORKERS",
        ge=1,
        description="Threads that run GraphQL resolvers; more requests wait, so GraphQL cannot starve REST.",
    )
    grpc_workers: int = Field(
        10, alias="GRPC_WORKERS", ge=2, description="gRPC threads for unary calls and health checks."
    )
    grpc_max_streams: int = Field(
        8,
        alias="GRPC_MAX_STREAMS",
        ge=1,
        description="Open StreamPrices calls at once (own threads, beside GRPC_WORKERS); beyond it RESOURCE_EXHAUSTED.",
    )

    # --- streaming -------------------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS", description="Kafka bootstrap servers."
    )
    kafka_topic_prices: str = Field("crypto-prices", alias="KAFKA_TOPIC_PRICES", description="Price ticks topic.")
    kafka_topic_predictions: str = Field(
        "predictions", alias="KAFKA_TOPIC_PREDICTIONS", description="Predictions topic."
    )
    kafka_topic_alerts: str = Field("alerts", alias="KAFKA_TOPIC_ALERTS", description="Alerts topic.")
    kafka_topic_dead_letter: str = Field(
        "crypto-prices-dlq", alias="KAFKA_TOPIC_DEAD_LETTER", description="Dead-letter topic for malformed messages."
    )
    kafka_consumer_group: str = Field(
        "crypto-ml-processor", alias="KAFKA_CONSUMER_GROUP", description="Consumer group of the stream processor."
    )
    kafka_session_timeout_ms: int = Field(
        6000,
        alias="KAFKA_SESSION_TIMEOUT_MS",
        description="Consumer session timeout; tansu delays JoinGroup by about half of it, so keep it small.",
    )
    kafka_fetch_wait_max_ms: int = Field(
        1,
        ge=0,
        alias="KAFKA_FETCH_WAIT_MAX_MS",
        description="How long the broker may hold the stream consumer's fetch waiting for data: bounds how late a "
        "tick of a slow stream is seen (librdkafka's own default is 500 ms; tansu answers at the end of the wait).",
    )

    # --- component settings (own env prefixes: PIPELINE_, PIPELINE_TRAIN_, STACK_) ---------------
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings, description="Retraining pipeline.")
    training: TrainingSettings = Field(default_factory=TrainingSettings, description="How the pipeline trains.")
    stack: StackSettings = Field(default_factory=StackSettings, description="The `make up` supervisor.")

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment == "production":
            bad = weak_secrets(self.required_secrets())
            if bad:
                raise ValueError(
                    f"refusing placeholder secrets in production: {', '.join(bad)} "
                    f"(set a non-default value of at least {MIN_SECRET_LENGTH} characters)"
                )
        return self

    def required_secrets(self) -> dict[str, str | None]:
        """The secrets of the parts that are configured: S3 only with an endpoint, a DB password only if any."""
        secrets: dict[str, str | None] = {"API_KEY": self.api_key}
        if self.s3_endpoint_url:
            secrets["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key
        db_password = make_url_password(self.database_url)
        if db_password is not None:
            secrets["DATABASE_URL (password)"] = db_password
        return secrets

    @property
    def s3_enabled(self) -> bool:
        return bool(self.s3_endpoint_url)

    def pair_list(self) -> list[str]:
        """PAIRS as a list, as written (the service normalizes each); [DEFAULT_SYMBOL] when empty."""
        return [p.strip() for p in self.pairs.split(",") if p.strip()] or [self.default_symbol]


def weak_secrets(secrets: dict[str, str | None]) -> list[str]:
    """Names whose value is missing, a known placeholder or shorter than MIN_SECRET_LENGTH."""
    return [
        name
        for name, value in secrets.items()
        if (value or "").lower() in PLACEHOLDER_SECRETS or len(value or "") < MIN_SECRET_LENGTH
    ]


def make_url_password(url: str) -> str | None:
    """The password in a `scheme://user:password@host/db` URL, or None (SQLite, no password)."""
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return None
    return unquote(userinfo.split(":", 1)[1])


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached); tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
