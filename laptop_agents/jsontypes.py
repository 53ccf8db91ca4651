"""JSON as a type: what orjson decodes and what the API and the journal's views encode."""

from __future__ import annotations

from typing import TypeAlias

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
JSONObject: TypeAlias = "dict[str, JSON]"

__all__ = ["JSON", "JSONObject"]
