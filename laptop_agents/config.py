"""All of the daemon's settings in one pydantic-settings model.

Every field reads the environment variable ``LA_<FIELD_NAME>`` (or a ``.env`` file in the
working directory) and is documented, with its default, in ``.env.example`` and
docs/configuration.md. Command-line flags override the environment.

Start-up calls :func:`load_settings`, which turns a validation failure into a one-line
:class:`~laptop_agents.errors.ConfigError` naming the setting (exit code 78, no traceback).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The names and helpers below live in config_base.py (this module is the settings model).
from laptop_agents.config_base import (
    ENV_PREFIX,
    MIN_API_TOKEN_CHARS,
    REAL_PRIVATE_WS_URL,
    REAL_REST_URL,
    REAL_WS_URL,
    default_data_dir,
    format_validation_error,
    is_loopback_host,
    json_object,
    strong_token,
    symbol_list,
    url_tag,
)
from laptop_agents.errors import ConfigError
from laptop_agents.models import WS_INTERVAL_MS
from laptop_agents.notify.events import parse_events
from laptop_agents.notify.targets import parse_targets, url_secrets
from laptop_agents.sim.contracts import SPECS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # --- what to trade and where the data comes from ------------------------------------
    source: Literal["sim", "bitunix"] = Field(
        "sim", description="Market data source: the built-in simulator or the real exchange."
    )
    symbol: str = Field("BTCUSDT", description="Contract to trade (upper case).")
    symbols: str = Field("", description="Several contracts in one process, comma-separated "
                         "(BTCUSDT,ETHUSDT); empty: LA_SYMBOL alone. docs/symbols.md.")
    interval: str = Field("1min", description="Candle interval the strategy runs on.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Journal and state directory (StateDirectory under systemd, else XDG).",
    )

    # --- Bitunix endpoints and credentials ----------------------------------------------
    bitunix_ws_url: str = Field(REAL_WS_URL, description="Public futures WebSocket URL.")
    bitunix_private_ws_url: str = Field(REAL_PRIVATE_WS_URL, description="Private WS URL.")
    bitunix_rest_url: str = Field(REAL_REST_URL, description="Futures REST base URL.")
    bitunix_api_key: SecretStr | None = Field(None, description="API key (private socket only).")
    bitunix_api_secret: SecretStr | None = Field(None, description="API secret.")

    # --- WebSocket client behaviour ------------------------------------------------------
    ws_connect_timeout: float = Field(5.0, gt=0, description="Seconds to wait for `connect`.")
    ws_ping_interval: float = Field(10.0, gt=0, description="Seconds between JSON pings.")
    ws_pong_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a ping reply.")
    ws_silence_timeout: float = Field(
        5.0, gt=0, description="A subscribed socket with no frame for this long is dead."
    )
    ws_backoff_initial: float = Field(
        1.0, gt=0, description="Delay after a failed connect (s); doubles, jittered, capped. "
        "Bitunix may block addresses that reconnect too often: keep it >= 1 against it."
    )
    ws_backoff_max: float = Field(30.0, gt=0, description="Cap of the reconnect delay (s).")
    ws_refused_limit: int = Field(
        3, ge=1, description="Consecutive refused connects/rejected handshakes before exit."
    )
    ws_max_frames_per_second: int = Field(
        4, ge=1, le=5, description="Client frames per second (the server drops > 5)."
    )
    candle_close_grace: float = Field(
        3.0, ge=0, description="Seconds after a boundary before a silent candle closes via REST."
    )
    emit_partial_candles: bool = Field(False, description="Also yield in-progress candles.")
    price_band_pct: Decimal = Field(
        Decimal("5"), gt=0, le=50,
        description="Quotes further than this % from the reference price are quarantined.",
    )
    price_confirm_quotes: int = Field(
        5, ge=2, description="Agreeing out-of-band quotes in a row that confirm a real move."
    )
    price_confirm_seconds: float = Field(
        1.0, ge=0, description="... spread over at least this many seconds."
    )
    pause_detect_seconds: float = Field(
        5.0, gt=0, description="A sleep or loop stall this long marks prices stale and "
        "replaces the socket.",
    )
    rest_max_requests_per_second: float = Field(10.0, gt=0, description="REST rate cap.")
    rest_timeout: float = Field(10.0, gt=0, description="REST request timeout (s).")

    # --- the built-in simulator (source=sim) ---------------------------------------------
    sim_host: str = Field("127.0.0.1", description="Simulator bind address.")
    sim_port: int = Field(0, ge=0, le=65535, description="Simulator port (0 = any free port).")
    sim_speed: float = Field(
        20.0, gt=0, description="Simulated seconds per wall second for `run` on the simulator."
    )
    # 13: on this market path the Supervisor opens and closes a trade within ~90 wall seconds
    # at 20x whatever the start minute (checked over all 60 offsets; 42 needed up to ~3 min).
    sim_seed: int = Field(13, description="Seed of the simulated market.")
    sim_idle_timeout: float = Field(
        60.0, gt=0, description="Simulator drops sockets silent this long (wall seconds)."
    )
    sim_kline_push_ms: int = Field(500, gt=0, description="Kline push period (wall ms).")
    sim_depth_push_ms: int = Field(310, gt=0, description="Depth push period (wall ms).")
    sim_admin: bool = Field(False, description="Enable the loopback-only fault admin API.")
    sim_symbols: str = Field(
        "", description="Contracts the simulator serves, comma-separated (BTCUSDT,ETHUSDT,"
        "SOLUSDT); empty: the symbols the daemon trades (`laptop-agents sim`: BTCUSDT). "
        "docs/simulator.md lists the known ones.",
    )
    sim_funding_interval: int = Field(
        28_800, gt=0, multiple_of=60,
        description="Simulated seconds between funding settlements (whole minutes).",
    )

    # --- strategy: which one and its parameters (docs/strategies.md) ----------------------
    strategy: str = Field(
        "supervisor", min_length=1,
        description="Strategy to run: a built-in name (`laptop-agents strategies` lists them), "
                    "package.module:Class or path/to/file.py:Class.",
    )
    strategy_params: str = Field(
        "{}", description="The strategy's parameters as a JSON object, e.g. "
                          '{"fast": 9, "slow": 21}; checked by its own Params model.',
    )
    # --- the Supervisor's defaults (LA_STRATEGY_PARAMS overrides them) -------------------
    warmup_candles: int = Field(100, ge=100, description="Supervisor: minimum warm-up.")
    history_candles: int = Field(
        300, ge=100,
        description="Closed candles kept in memory (raised to the strategy's warm-up).",
    )
    ema_fast: int = Field(9, ge=2, description="Fast EMA (sweep direction filter).")
    ema_mid: int = Field(20, ge=2, description="EMA for trend and pullback entry.")
    ema_slow: int = Field(50, ge=2, description="Slow EMA for trend.")
    atr_period: int = Field(14, ge=2, description="ATR period.")
    pullback_stop_atr: Decimal = Field(Decimal("1.5"), gt=0, description="Stop = ATR x this.")
    pullback_target_r: Decimal = Field(Decimal("2.0"), gt=0, description="Target in risk units.")
    sweep_lookback: int = Field(10, ge=2, description="Prior candles whose extreme is swept.")
    sweep_stop_atr: Decimal = Field(Decimal("0.5"), ge=0, description="Stop beyond the sweep.")
    sweep_vwap_period: int = Field(60, ge=2, description="Candles in the VWAP target.")
    volume_avg_period: int = Field(20, ge=2, description="Candles in the volume average.")
    sweep_min_volume_ratio: Decimal = Field(Decimal("0.5"), ge=0, description="Min vol/avg.")
    min_reward_risk: Decimal = Field(Decimal("1.5"), gt=0, description="Reward/risk gate.")
    cooldown_candles: int = Field(5, ge=0, description="Candles without entries after exit.")
    min_atr_pct: Decimal = Field(Decimal("0.0001"), ge=0, description="No setup below ATR/price.")
    risk_pct: Decimal = Field(
        Decimal("0.01"), gt=0, le=Decimal("0.1"), description="Equity risked per trade (0.01=1%)."
    )
    market_cap_headroom: Decimal = Field(
        Decimal("0.005"), ge=0, lt=Decimal("0.1"),
        description="Market entries are sized this fraction under the notional/leverage caps.",
    )

    # --- paper broker and risk limits ----------------------------------------------------
    starting_equity: Decimal = Field(Decimal("10000"), gt=0, description="Paper USDT balance.")
    maker_fee: Decimal = Field(Decimal("0.0002"), ge=0, lt=1, description="Maker fee (0.02%).")
    taker_fee: Decimal = Field(Decimal("0.0006"), ge=0, lt=1, description="Taker fee (0.06%).")
    slippage_bps: Decimal = Field(Decimal("1"), ge=0, description="Market-order slippage (bp).")
    limit_expiry_candles: int = Field(3, ge=1, description="Unfilled limit orders expire.")
    trailing_stop_atr: Decimal = Field(
        Decimal("0"), ge=0, description="Trailing stop distance in ATRs (0 = off)."
    )
    max_position_qty: Decimal = Field(Decimal("1"), gt=0, description="Max position (BTC).")
    max_notional: Decimal = Field(Decimal("50000"), gt=0, description="Max notional (USDT).")
    max_leverage: Decimal = Field(Decimal("5"), gt=0, description="Max notional / equity.")
    min_notional: Decimal = Field(Decimal("5"), ge=0, description="Smallest order (USDT).")
    max_orders_per_minute: int = Field(6, ge=1, description="Order submissions per minute.")
    daily_loss_cap_pct: Decimal = Field(
        Decimal("0.03"), gt=0, le=1, description="Daily loss (fraction of day-start equity)."
    )
    max_open_positions: int = Field(0, ge=0, description="Symbols with a position or entry "
                                    "order at once (0 = no limit).")
    max_total_notional: Decimal = Field(Decimal(0), ge=0, description="Open plus working "
                                        "notional of all symbols (USDT, 0 = no limit).")
    # --- perpetual account (docs/paper-trading.md gives each default's source) ----------------
    leverage: Decimal = Field(
        Decimal("5"), ge=1, le=200,
        description="Isolated-margin leverage: margin = notional / leverage (at most the "
                    "instrument's maxLeverage).",
    )
    maintenance_margin_rate: Decimal = Field(
        Decimal("0.005"), ge=0, lt=Decimal("0.5"),
        description="Maintenance margin as a fraction of the position's value (0.005 = 0.5%).",
    )
    liquidation_fee_rate: Decimal = Field(
        Decimal("0.0006"), ge=0, lt=Decimal("0.1"),
        description="Liquidation fee as a fraction of the notional at the bankruptcy price.",
    )
    trigger_price: Literal["last", "mark"] = Field(
        "last", description="Price that triggers stops and targets: last (the quote) or mark.",
    )

    # --- engine --------------------------------------------------------------------------
    watchdog_interval: float = Field(0.1, gt=0, description="Safety-net SL/TP timer (s).")
    stale_after: float = Field(5.0, gt=0, description="Prices older than this are stale (s).")
    heartbeat_interval: float = Field(60.0, gt=0, description="Health line period (s).")
    position_sync_interval: float = Field(30.0, gt=0, description="Reconciliation period (s).")
    kill_file: Path | None = Field(None, description="While this file exists, no new entries.")
    flatten_on_exit: bool = Field(False, description="Close the open position on shutdown.")
    queue_size: int = Field(1000, ge=10, description="Bound of the engine's queues.")

    # --- record and replay (docs/replay.md) ------------------------------------------------
    record: bool = Field(False, description="Record the market stream to <data dir>/recordings.")
    record_segment_mb: float = Field(64.0, gt=0, description="Start a new recording file above "
                                     "this size (MB, compressed).")
    record_segment_hours: float = Field(
        24.0, gt=0, description="Start a new recording file after this many hours.")
    record_keep: int = Field(20, ge=1, description="Recording files kept (oldest deleted).")

    # --- control API ---------------------------------------------------------------------
    api_enabled: bool = Field(True, description="Serve the control API and browser page.")
    api_host: str = Field("127.0.0.1", description="Control API bind address.")
    api_port: int = Field(8080, ge=0, le=65535, description="Control API port (0 = any).")
    api_token: SecretStr | None = Field(
        None, description="Bearer token for state changes (16+ characters; unset: generated)."
    )
    api_read_requires_token: bool = Field(False, description="Also require it for reads.")
    api_max_body_bytes: int = Field(16_384, ge=256, description="Request body size limit.")
    api_idle_timeout: float = Field(
        15.0, gt=0,
        description="Seconds a connection may take to send a request head, or stay idle.",
    )
    api_max_connections: int = Field(
        256, ge=8,
        description="Concurrent API connections; at the cap the oldest without a request "
                    "is closed, else a new one gets 503.",
    )
    api_ws_buffer: int = Field(256, ge=1, description="Messages buffered per WS client.")
    api_ws_stall_timeout: float = Field(
        5.0, gt=0, description="A WS client this far behind (s) is disconnected."
    )

    # --- notifications (docs/notifications.md) --------------------------------------------
    webhook_url: SecretStr | None = Field(
        None, description="Webhook URL(s) notified of trading events: one, comma-separated, or "
        "a JSON list; a Telegram sendMessage URL gets text.")
    notify_events: str = Field(
        "all", description="Events notified: all, or comma-separated names (entry, exit, ...).")

    # --- logging and service -------------------------------------------------------------
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_json: bool = Field(False, description="One JSON object per log line.")
    log_file: Path | None = Field(None, description="Optional rotating log file.")
    log_file_max_bytes: int = Field(
        10_000_000, ge=10_000, description="Rotate the log file at this size (bytes)."
    )
    log_file_keep: int = Field(5, ge=1, description="Rotated log files kept.")
    log_stderr: bool = Field(
        True, description="Log to stderr (false: only LA_LOG_FILE, e.g. under launchd)."
    )

    @field_validator("symbol")
    @classmethod
    def _upper_symbol(cls, value: str) -> str:
        value = value.strip().upper()
        if not value.isalnum():
            raise ValueError("must be letters and digits, e.g. BTCUSDT")
        return value

    @field_validator("symbols")
    @classmethod
    def _symbol_list(cls, value: str) -> str:
        return symbol_list(value)

    @property
    def trade_symbols(self) -> tuple[str, ...]:
        """The symbols this daemon trades: LA_SYMBOLS, else LA_SYMBOL alone."""
        return tuple(self.symbols.split(",")) if self.symbols else (self.symbol,)

    @field_validator("sim_symbols")
    @classmethod
    def _sim_symbol_list(cls, value: str) -> str:
        return symbol_list(value, known=SPECS)

    @field_validator("interval")
    @classmethod
    def _known_interval(cls, value: str) -> str:
        if value not in WS_INTERVAL_MS:
            raise ValueError(f"must be one of {', '.join(WS_INTERVAL_MS)}")
        return value

    @field_validator("strategy_params")
    @classmethod
    def _json_object(cls, value: str) -> str:
        return json_object(value)

    @field_validator("bitunix_ws_url", "bitunix_private_ws_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("bitunix_rest_url")
    @classmethod
    def _rest_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("webhook_url", "notify_events")
    @classmethod
    def _notifications(cls, value: SecretStr | str | None) -> object:
        if isinstance(value, SecretStr):  # messages name the receivers redacted, never whole
            parse_targets(value.get_secret_value())
        elif isinstance(value, str):
            parse_events(value)
        return value

    @field_validator("api_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        return strong_token(value)

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if not self.ema_fast < self.ema_mid < self.ema_slow:
            raise ValueError("ema_fast < ema_mid < ema_slow must hold")
        if self.ws_backoff_initial > self.ws_backoff_max:
            raise ValueError("ws_backoff_initial must not exceed ws_backoff_max")
        if self.history_candles < self.warmup_candles:
            raise ValueError("history_candles must be >= warmup_candles")
        if self.record and len(self.trade_symbols) > 1:
            raise ValueError("LA_RECORD records one symbol: unset it or LA_SYMBOLS")
        if not is_loopback_host(self.api_host) and self.api_token is None:
            raise ValueError(
                f"LA_API_HOST={self.api_host} is not a loopback address: set LA_API_TOKEN "
                f"(at least {MIN_API_TOKEN_CHARS} characters) to expose the API"
            )
        return self

    def secrets(self) -> list[str]:
        """Every configured secret value, so the log sink can scrub them."""
        values = [self.bitunix_api_key, self.bitunix_api_secret, self.api_token]
        hooks = url_secrets(self.webhook_url.get_secret_value() if self.webhook_url else None)
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()
                ] + hooks


def market_tag(settings: Settings) -> str | None:
    """The journal tag of a non-default market (config_base.url_tag)."""
    return url_tag(settings.source, settings.bitunix_ws_url, settings.bitunix_rest_url)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, `.env` and ``overrides`` (CLI flags).

    Raises ConfigError with a one-line message naming the offending setting.
    """
    cleaned = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**cleaned)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error)) from None


__all__ = ["ENV_PREFIX", "MIN_API_TOKEN_CHARS", "REAL_PRIVATE_WS_URL", "REAL_REST_URL",
           "REAL_WS_URL", "Settings", "default_data_dir", "is_loopback_host", "load_settings",
           "market_tag"]
