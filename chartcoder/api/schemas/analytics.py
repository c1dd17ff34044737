"""Feedback analytics: how coders' final decisions judge the model's suggestions (the numbers and
their definitions: chartcoder/review/analytics.py and docs/review-api.md). Rates are 0-1, rounded to
four places, and none where their denominator is 0."""

from __future__ import annotations

from pydantic import Field

from chartcoder.api.schemas.common import Out

_ACCEPTANCE = "accepted / (accepted + rejected)"


class FeedbackFilters(Out):
    since: str | None
    until: str | None
    pack: str | None
    system: str | None
    bucket: str
    top: int
    include_open: bool


class Totals(Out):
    encounters: int
    suggested: int = Field(..., description="Suggested codes: accepted + rejected + pending.")
    accepted: int
    rejected: int
    pending: int
    added: int = Field(..., description="Codes coders added by hand.")
    acceptance_rate: float | None = Field(None, description=_ACCEPTANCE)
    precision: float | None = Field(None, description="accepted / suggested")
    recall: float | None = Field(None, description="accepted / (accepted + added)")


class PackRow(Out):
    pack: str = Field(..., description="name@version")
    encounters: int
    first: str = Field(..., description="The first day (YYYY-MM-DD) the pack's suggestions were stored.")
    last: str
    suggested: int
    accepted: int
    rejected: int
    pending: int
    added: int
    acceptance_rate: float | None = Field(None, description=_ACCEPTANCE)
    precision: float | None = None
    recall: float | None = None


class Period(Out):
    period: str = Field(..., description="A day (YYYY-MM-DD) or an ISO week (2026-W47).")
    start: str = Field(..., description="Its first day.")


class Point(Out):
    period: str
    start: str
    accepted: int
    rejected: int
    added: int
    acceptance_rate: float | None = Field(None, description=_ACCEPTANCE)


class Series(Out):
    pack: str
    points: list[Point]


class OverTime(Out):
    bucket: str = Field(..., description="day or week")
    periods: list[Period]
    series: list[Series] = Field(..., description="One per pack.")
    all: list[Point] = Field(..., description="Every pack together.")


class CodeRow(Out):
    code: str
    system: str
    description: str
    suggested: int
    accepted: int
    rejected: int
    pending: int
    added: int
    acceptance_rate: float | None = Field(None, description=_ACCEPTANCE)
    precision: float | None = None
    recall: float | None = None


class ReasonCount(Out):
    reason: str
    label: str
    count: int


class RejectedRow(Out):
    code: str
    system: str
    description: str
    rejected: int
    decided: int = Field(..., description="accepted + rejected")
    rejection_rate: float | None = None
    reasons: list[ReasonCount]


class AddedRow(Out):
    code: str
    system: str
    description: str
    added: int
    suggested: int = Field(..., description="How often the model suggested it (elsewhere).")


class FeedbackReport(Out):
    filters: FeedbackFilters
    totals: Totals
    by_pack: list[PackRow]
    over_time: OverTime
    by_code: list[CodeRow] = Field(..., description="Most decided first.")
    top_rejected: list[RejectedRow] = Field(..., description="The codes coders most often reject.")
    top_added: list[AddedRow] = Field(..., description="The codes coders most often add: the model's blind spots.")
    reject_reasons: list[ReasonCount]
