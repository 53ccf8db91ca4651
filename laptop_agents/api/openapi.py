"""The OpenAPI 3 description of the control API, served at GET /openapi.json.

Hand-written (the API is small) and kept honest by tests/api/test_fuzz.py, which fuzzes every
operation from this document and validates every response against it.
"""

from __future__ import annotations

from typing import Any

from laptop_agents import __version__
from laptop_agents.config import Settings

_DEC = {"type": "string", "description": "decimal number rendered as a string",
        "example": "67012.5"}
_NULL_DEC = {**_DEC, "nullable": True}
_NULL_NUM = {"type": "number", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Position": {
        "type": "object",
        "required": ["side", "size", "entry"],
        "properties": {
            "side": {"type": "string", "enum": ["long", "short"]},
            "symbol": {"type": "string"},
            "size": _DEC, "entry": _DEC,
            "stop": {**_NULL_DEC, "description": "effective stop (trailing when tighter)"},
            "fixed_stop": _NULL_DEC, "trailing_stop": _NULL_DEC, "target": _NULL_DEC,
            "opened_ms": {"type": "integer"}, "setup": {"type": "string", "nullable": True},
            "unrealized_pnl": {**_NULL_DEC, "description": "null before the first tick"},
        },
    },
    "Status": {
        "type": "object",
        "required": ["mode", "source", "symbol", "feed", "gate", "position", "equity",
                     "realized_pnl_today", "uptime_s", "tasks"],
        "properties": {
            "mode": {"type": "string", "example": "paper"},
            "source": {"type": "string", "enum": ["sim", "bitunix"]},
            "symbol": {"type": "string", "example": "BTCUSDT"},
            "feed": {
                "type": "object", "required": ["state"],
                "properties": {
                    "state": {"type": "string", "example": "connected"},
                    "last_tick_age_s": _NULL_NUM,
                    "reconnects": {"type": "integer", "minimum": 0},
                    "clock_offset_ms": {"type": "integer", "nullable": True,
                                        "description": "estimated exchange time minus the "
                                                       "laptop's clock; null before pushes"},
                    "exchange_clock_rate": {"type": "number",
                                            "description": "exchange ms per local ms "
                                                           "(1 = real time)"},
                    "bid": _NULL_DEC, "ask": _NULL_DEC,
                },
            },
            "data_health": {
                "type": "object",
                "description": "what the daemon refused to believe (docs/market-data.md)",
                "properties": {
                    "quotes_accepted": {"type": "integer", "minimum": 0},
                    "quotes_rejected": {"type": "object",
                                        "additionalProperties": {"type": "integer"},
                                        "description": "quarantined quotes by reason"},
                    "price_suspect_s": {"type": "number", "minimum": 0},
                    "price_reference": _NULL_DEC,
                    "moves_confirmed": {"type": "integer", "minimum": 0},
                    "malformed_frames": {"type": "integer", "minimum": 0},
                    "implausible_timestamps": {"type": "integer", "minimum": 0},
                    "frame_errors": {"type": "integer", "minimum": 0},
                    "candles_rest_confirmed": {"type": "integer", "minimum": 0},
                    "candles_ws_fallback": {"type": "integer", "minimum": 0},
                    "candle_gaps": {"type": "integer", "minimum": 0},
                    "clock_offset_ms": {"type": "integer", "nullable": True},
                    "last_quote_age_s": _NULL_NUM,
                    "pauses_detected": {"type": "integer", "minimum": 0},
                },
            },
            "gate": {
                "type": "object", "required": ["trading_allowed", "reasons"],
                "properties": {
                    "trading_allowed": {"type": "boolean"},
                    "reasons": {"type": "array", "items": {"type": "string"},
                                "description": "active pause reasons, e.g. manual, "
                                               "feed_disconnected, stale_prices"},
                    "exits_allowed": {"type": "boolean"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            },
            "position": {**_ref("Position"), "nullable": True},
            "equity": _DEC,
            "realized_pnl_today": _DEC,
            "uptime_s": {"type": "number", "minimum": 0},
            "interval": {"type": "string", "example": "1min"},
            "loop_lag_ms": {"type": "object", "additionalProperties": {"type": "number"},
                            "description": "event-loop lag: last, p99, max"},
            "warmup": {"type": "object", "properties": {"candles": {"type": "integer"},
                                                        "needed": {"type": "integer"}}},
            "strategy": {"type": "object", "additionalProperties": True},
            "working_orders": {"type": "integer", "minimum": 0,
                               "description": "resting entry orders at the paper broker"},
            "position_drift_count": {"type": "integer", "minimum": 0,
                                     "description": "broker/journal position mismatches seen"},
            "tasks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object", "required": ["state"],
                    "properties": {"state": {"type": "string",
                                             "example": "running"},
                                   "interval": {"type": "string",
                                                "description": "how often the task runs"},
                                   "last_run_age_s": _NULL_NUM},
                },
            },
        },
    },
    "Trade": {
        "type": "object", "additionalProperties": True,
        "description": "a closed round trip as journaled by the engine",
        "properties": {
            "trade_id": {"type": "string"}, "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["long", "short"]},
            "qty": _DEC, "entry_price": _DEC, "exit_price": _DEC,
            "opened_ms": {"type": "integer"}, "closed_ms": {"type": "integer"},
            "gross_pnl": _DEC, "fees": _DEC, "realized_pnl": {**_DEC, "description": "net of fees"},
            "exit_reason": {"type": "string", "example": "stop"}, "setup": {"type": "string"},
        },
    },
    "Candle": {
        "type": "object",
        "required": ["open_time", "open", "high", "low", "close"],
        "properties": {
            "symbol": {"type": "string"}, "interval": {"type": "string"},
            "open_time": {"type": "integer", "description": "bucket start, epoch ms"},
            "open": _DEC, "high": _DEC, "low": _DEC, "close": _DEC,
            "volume": _DEC, "quote_volume": _DEC, "closed": {"type": "boolean"},
        },
    },
    "Readiness": {
        "type": "object", "required": ["ready", "reasons"],
        "properties": {"ready": {"type": "boolean"},
                       "reasons": {"type": "array", "items": {"type": "string"}}},
    },
    "PauseRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 200,
                                  "description": "shown in /status gate reasons"}},
    },
    "FlattenResult": {
        "type": "object", "required": ["closed"],
        "properties": {"closed": {"type": "boolean"},
                       "trade": {**_ref("Trade"), "nullable": True},
                       "reason": {"type": "string",
                                  "description": "why nothing was closed (no open position, "
                                                 "no fresh price)"}},
    },
}

_LIMIT_DOC = "integer 1..1000"
_READ_ERRORS = {
    "401": _err("missing or invalid token (only when LA_API_READ_REQUIRES_TOKEN=true)"),
    "403": _err("Host not allowed, or reads require a token that is not configured"),
}
_WRITE_ERRORS = {
    "400": _err("invalid JSON or parameters"),
    "401": _err("missing or invalid bearer token"),
    "403": _err("no token configured (state changes disabled), cross-origin, or bad Host"),
    "413": _err("request body larger than LA_API_MAX_BODY_BYTES"),
}


def _get(summary: str, ok: dict[str, Any] | None, *, params: list[dict[str, Any]] | None = None,
         extra: dict[str, Any] | None = None, read_gated: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok} if ok is not None else {}
    if params:
        responses["400"] = _err("invalid query parameter")
    if read_gated:
        responses.update(_READ_ERRORS)
    responses.update(extra or {})
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if read_gated:
        op["security"] = [{}, {"bearerAuth": []}]
    return {"get": op}


def _post(summary: str, ok: dict[str, Any], body: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": [{"bearerAuth": []}],
                          "responses": {"200": ok, **_WRITE_ERRORS}}
    if body is not None:
        op["requestBody"] = body
    return {"post": op}


def _int_query(name: str, description: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum}}


def build_openapi(settings: Settings | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/status": _get("Daemon status: feed, gate, position, equity, PnL, tasks",
                        _json(_ref("Status"), "current status")),
        "/positions": _get("Open positions", _json(
            {"type": "object", "required": ["positions"],
             "properties": {"positions": {"type": "array", "items": _ref("Position")}}},
            "open positions (empty when flat)")),
        "/trades": _get("Closed trades", _json(
            {"type": "object", "required": ["trades"],
             "properties": {"trades": {"type": "array", "items": _ref("Trade")}}},
            "closed trades"), params=[
            _int_query("limit", f"{_LIMIT_DOC}, default 100", 1, 1000),
            _int_query("since", "only trades closed at or after this epoch ms", 0, 2**53),
        ]),
        "/candles": _get("Recent closed 1-minute candles, oldest first", _json(
            {"type": "object", "required": ["candles"],
             "properties": {"candles": {"type": "array", "items": _ref("Candle")}}},
            "candles"), params=[_int_query("limit", f"{_LIMIT_DOC}, default 300", 1, 1000)]),
        "/pause": _post("Pause new entries (persisted: a restart stays paused)",
                        _json(_ref("Status"), "status after pausing"),
                        body={"required": False, "content": {
                            "application/json": {"schema": _ref("PauseRequest")}}}),
        "/resume": _post("Lift the manual pause", _json(_ref("Status"), "status after resuming")),
        "/flatten": _post("Close the open position at market",
                          _json(_ref("FlattenResult"), "whether a position was closed")),
        "/healthz": _get("Liveness: the process answers", _json(
            {"type": "object", "required": ["status"],
             "properties": {"status": {"type": "string", "enum": ["ok"]}}}, "alive"),
            read_gated=False, extra={"403": _err("Host not allowed")}),
        "/readyz": _get("Readiness: feed connected and strategy warm",
                        _json(_ref("Readiness"), "ready"), read_gated=False,
                        extra={"503": _json(_ref("Readiness"), "not ready, with reasons"),
                               "403": _err("Host not allowed")}),
        "/metrics": _get("Prometheus metrics", {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}}}),
        "/openapi.json": _get("This document", {
            "description": "OpenAPI 3 document",
            "content": {"application/json": {"schema": {"type": "object"}}}},
            read_gated=False, extra={"403": _err("Host not allowed")}),
        "/ws": _get(
            "WebSocket feed (upgrade): messages {type: tick|candle|trade|order|status, data}",
            None,
            params=[{"name": "types", "in": "query", "required": False,
                     "description": "comma-separated subset of tick,candle,trade,order,status",
                     "schema": {"type": "string"}}],
            read_gated=False,
            extra={"101": {"description": "switching protocols to WebSocket"},
                   "400": _err("not a WebSocket handshake, or unknown types"),
                   "401": _err("invalid bearer token on the handshake"),
                   "403": _err("cross-origin handshake or Host not allowed")}),
        "/": _get("The browser page (live chart, pause/resume)", {
            "description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
            read_gated=False, extra={"403": _err("Host not allowed")}),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "laptop-agents control API",
            "version": __version__,
            "description": "Status and control of a running laptop-agents daemon. "
                           "See docs/api.md for the security model and the WebSocket feed.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "LA_API_TOKEN"}},
        },
    }
