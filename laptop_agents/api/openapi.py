"""The OpenAPI 3.1 description of the control API, served at GET /openapi.json.

The schemas are generated from the views in session/views.py (pydantic's JSON Schema, which is
OpenAPI 3.1's dialect), so a shape is written once; the paths and operations are described
here. Kept honest by tests/api/test_fuzz.py, which fuzzes every operation from this document
and validates every response against it, and by tests/api/test_real_engine.py.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema, core_schema

from laptop_agents import __version__
from laptop_agents.config import Settings
from laptop_agents.session.equity import DEFAULT_POINTS, MAX_POINTS, MIN_POINTS
from laptop_agents.session.views import (
    CandleList,
    EquityHistory,
    ErrorView,
    FeedKind,
    FeedMessage,
    FlattenResult,
    Liveness,
    PauseRequest,
    PositionList,
    Readiness,
    StatusView,
    TradeList,
    schema_name,
)

OPENAPI_VERSION = "3.1.0"
REF_PREFIX = "#/components/schemas/"
_RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    StatusView, PositionList, TradeList, CandleList, EquityHistory, FlattenResult, Readiness,
    Liveness, ErrorView)


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema, trimmed to what a reader of the document needs."""

    def normalize_name(self, name: str) -> str:
        # the document keeps the API's names: Status, Position, Trade, ... not StatusView
        return schema_name(super().normalize_name(name))

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False  # "Last Tick Age S" says nothing the property name does not

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        # A default in an answer's schema would be a lie: an unset field is left out.
        return self.generate_inner(schema["schema"])


@functools.cache
def _generated_schemas() -> dict[str, Any]:
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (model.__name__, "serialization", TypeAdapter(model)) for model in _RESPONSE_MODELS]
    inputs.append(("PauseRequest", "validation", TypeAdapter(PauseRequest)))
    inputs.append(("FeedMessage", "serialization", TypeAdapter(FeedMessage)))
    top, defs = TypeAdapter.json_schemas(inputs, ref_template=REF_PREFIX + "{model}",
                                         schema_generator=_Generator)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for (name, _mode), schema in top.items():
        if "$ref" not in schema:  # a union (FeedMessage) has no definition of its own yet
            schemas[name] = schema
    return schemas


def component_schemas() -> dict[str, Any]:
    """Every schema of the document by name (a copy: callers may change it)."""
    return copy.deepcopy(_generated_schemas())


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


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
    """A state change; each takes ``?symbol=`` (one symbol only; 404 when not traded)."""
    op: dict[str, Any] = {"summary": summary, "security": [{"bearerAuth": []}],
                          "parameters": [_SYMBOL],
                          "responses": {"200": ok, **_WRITE_ERRORS, "404": _NOT_TRADED}}
    if body is not None:
        op["requestBody"] = body
    return {"post": op}


_SYMBOL: dict[str, Any] = {
    "name": "symbol", "in": "query", "required": False,
    "description": "one traded symbol (default: every symbol, or the first for candles)",
    "schema": {"type": "string", "maxLength": 40}}
_NOT_TRADED = _err("the symbol is not traded by this daemon")


def _int_query(name: str, description: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum}}


def _header(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": schema}


# A GET of /ws is only a valid request as a WebSocket handshake (RFC 6455 4.1); without these
# headers it is refused with 400, which a fuzzer must see as a rejected invalid request.
_WS_HANDSHAKE = [
    _header("Upgrade", {"type": "string", "enum": ["websocket"]}),
    _header("Connection", {"type": "string", "enum": ["Upgrade"]}),
    _header("Sec-WebSocket-Version", {"type": "string", "enum": ["13"]}),
    _header("Sec-WebSocket-Key", {"type": "string", "pattern": "^[A-Za-z0-9+/]{21}[AQgw]==$",
                                  "description": "16 random bytes, base64"}),
]


# What parse_types (api/ws.py) accepts: comma-separated kinds, each stripped of whitespace as
# str.strip() knows it (the class below), empty items ignored. Exact, so that a value a fuzzer
# draws as valid is never refused; tests/api/test_fuzz.py compares the two.
_SPACE = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*"
_ITEM = f"{_SPACE}(({'|'.join(get_args(FeedKind))}){_SPACE})?"
_TYPES_PATTERN = f"^{_ITEM}(,{_ITEM})*$"


def _ws_operation() -> dict[str, Any]:
    return _get(
        "WebSocket feed (upgrade): FeedMessage frames {type: tick|candle|trade|order|status, "
        "data}",
        None,
        params=[{"name": "types", "in": "query", "required": False,
                 "description": "comma-separated subset of tick,candle,trade,order,status "
                                "(default: all)",
                 "schema": {"type": "string", "pattern": _TYPES_PATTERN}},
                {"name": "symbols", "in": "query", "required": False,
                 "description": "comma-separated symbols whose ticks, candles, trades and "
                                "orders are wanted (default: all; status always)",
                 "schema": {"type": "string", "maxLength": 400}},
                _SYMBOL, *_WS_HANDSHAKE],
        read_gated=False,
        extra={"101": {"description": "switching protocols to WebSocket; each frame is a "
                                      "FeedMessage (components/schemas/FeedMessage)"},
               "400": _err("not a WebSocket handshake (a plain GET without Upgrade: "
                           "websocket, or a malformed one), or unknown types"),
               "401": _err("invalid bearer token on the handshake"),
               "403": _err("cross-origin handshake or Host not allowed")})


def _paths() -> dict[str, Any]:
    return {
        "/status": _get("Daemon status: feed, gate, position, equity, PnL, tasks",
                        _json(_ref("Status"), "current status")),
        "/positions": _get("Open positions",
                           _json(_ref("PositionList"), "open positions (empty when flat)")),
        "/trades": _get("Closed trades", _json(_ref("TradeList"), "closed trades"), params=[
            _int_query("limit", f"{_LIMIT_DOC}, default 100", 1, 1000),
            _int_query("since", "only trades closed at or after this epoch ms", 0, 2**53),
            _SYMBOL,
        ], extra={"404": _NOT_TRADED}),
        "/candles": _get("Recent closed 1-minute candles, oldest first",
                         _json(_ref("CandleList"), "candles"),
                         params=[_int_query("limit", f"{_LIMIT_DOC}, default 300", 1, 1000),
                                 _SYMBOL], extra={"404": _NOT_TRADED}),
        "/equity": _get(
            "Equity history from the journal (balance, unrealized, funding), downsampled",
            _json(_ref("EquityHistory"), "equity snapshots, oldest first"), params=[
                _int_query("since", "only snapshots at or after this epoch ms (default: all, "
                                    "30 days are kept)", 0, 2**53),
                _int_query("points", f"at most this many points, {MIN_POINTS}..{MAX_POINTS}, "
                                     f"default {DEFAULT_POINTS}", MIN_POINTS, MAX_POINTS),
            ]),
        "/pause": _post("Pause new entries (persisted: a restart stays paused)",
                        _json(_ref("Status"), "status after pausing"),
                        body={"required": False, "content": {
                            "application/json": {"schema": _ref("PauseRequest")}}}),
        "/resume": _post("Lift the manual pause", _json(_ref("Status"), "status after resuming")),
        "/flatten": _post("Close the open positions at market",
                          _json(_ref("FlattenResult"), "whether a position was closed")),
        "/healthz": _get("Liveness: the process answers", _json(_ref("Liveness"), "alive"),
                         read_gated=False, extra={"403": _err("Host not allowed")}),
        "/readyz": _get("Readiness: feed connected and strategy warm",
                        _json(_ref("Readiness"), "ready"), read_gated=False,
                        extra={"503": _json(_ref("Readiness"), "not ready, with reasons"),
                               "403": _err("Host not allowed")}),
        "/metrics": _get("Prometheus metrics", {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}}}),
        "/openapi.json": _get("This document", {
            "description": "OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}}},
            read_gated=False, extra={"403": _err("Host not allowed")}),
        "/ws": _ws_operation(),
        "/": _get("The browser page (live chart, pause/resume)", {
            "description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
            read_gated=False, extra={"403": _err("Host not allowed")}),
    }


def build_openapi(settings: Settings | None = None) -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "laptop-agents control API",
            "version": __version__,
            "description": "Status and control of a running laptop-agents daemon. "
                           "See docs/api.md for the security model and the WebSocket feed.",
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "LA_API_TOKEN"}},
        },
    }
