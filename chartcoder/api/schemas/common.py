"""What every family of schemas shares: the strict base of request bodies, the ISO date, the error
answer and the health answer, and the error responses the routes document."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, get_args

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: object) -> object:
    # pydantic also reads a number ("0", 86400) as a Unix time; the API promises YYYY-MM-DD only
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value) or isinstance(value, int | float):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _types(annotation: Any) -> set[Any]:
    """Every type an annotation admits (`int | None` -> {int, NoneType}), through Annotated and unions."""
    args = get_args(annotation)
    if not args:
        return {annotation}
    return {annotation, *(t for a in args for t in _types(a))}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # JSON true/false is not a number: pydantic would read `"age": false` as 0.
        if (
            isinstance(value, bool)
            and info.field_name
            and bool not in _types(cls.model_fields[info.field_name].annotation)
        ):
            raise ValueError("expected a number or text, not true/false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # NUL is never text a person typed, and PostgreSQL refuses it in text columns.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("contains a NUL character; send plain text")
        return value


class ErrorOut(BaseModel):
    error: str
    detail: str | list[dict[str, object]]
    request_id: str | None = None


class Health(BaseModel):
    status: Literal["ok"]
    model: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
    429: {"model": ErrorOut, "description": "Rate limit reached; Retry-After says when to retry."},
}
REVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}

RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EncounterId = Annotated[str, Path(min_length=1, max_length=64)]


class Out(BaseModel):
    """The base of every answer's schema. Routes answer with `response_model_exclude_unset`, so a field
    the service did not send is not added: an answer holds what it held before it had a schema."""


class Stored(Out):
    """An answer read back from JSON stored by this or an earlier version (suggestion sets, findings,
    CDS cards): the named fields are described, any others are passed on as stored."""

    model_config = ConfigDict(extra="allow")
