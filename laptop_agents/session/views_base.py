"""The building blocks of the API's views (session/views.py): the base class, the money type,
the JSON rules; see session/views.py for what they are used for."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

Money = Annotated[
    Decimal,
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "decimal number rendered as a string",
                    "examples": ["67012.5"]}),
]
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
EpochMs = Annotated[int, Field(description="epoch milliseconds")]
# Not in the schema: an unset field is left out of the JSON, never sent as null.
Unset = SkipJsonSchema[None]


def schema_name(name: str) -> str:
    """The name a view has in the API's schemas: Status, not StatusView."""
    return name.removesuffix("View")


class View(BaseModel):
    # forbid: a misspelt field is a bug in the builder, not something to drop silently
    model_config = ConfigDict(extra="forbid", frozen=True,
                              model_title_generator=lambda model: schema_name(model.__name__))


def view_json(view: BaseModel) -> bytes:
    """The view as JSON bytes, unset fields left out (pydantic-core, no dict in between)."""
    return view.__pydantic_serializer__.to_json(view, exclude_unset=True)
