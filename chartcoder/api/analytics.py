"""Feedback analytics route: how coders' final decisions judge the model's suggestions (data_scientist,
admin). The numbers and their definitions: chartcoder/review/analytics.py and docs/review-api.md."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from chartcoder.accounts.principal import Principal
from chartcoder.api.deps import RequireRole, Review
from chartcoder.api.schemas.analytics import FeedbackReport
from chartcoder.api.schemas.common import REVIEW_ERRORS, IsoDate
from chartcoder.domain.roles import Permission
from chartcoder.review.analytics import MAX_TOP, FeedbackAnalytics, FeedbackQuery

System = Literal["ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS"]


router = APIRouter(prefix="/v1", responses=REVIEW_ERRORS, tags=["analytics"])


@router.get("/analytics/feedback", response_model=FeedbackReport, response_model_exclude_unset=True)
def feedback(
    who: Annotated[Principal, Depends(RequireRole(Permission.READ_ANALYTICS))],
    review: Review,
    since: Annotated[IsoDate | None, Query(description="From this UTC day (YYYY-MM-DD), inclusive.")] = None,
    until: Annotated[IsoDate | None, Query(description="Through this UTC day (YYYY-MM-DD), inclusive.")] = None,
    pack: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="A pack version (name@hash), or a name for all its versions."),
    ] = None,
    system: Annotated[System | None, Query(description="Only codes of this system.")] = None,
    bucket: Annotated[Literal["day", "week"], Query(description="Over-time periods: UTC days or ISO weeks.")] = "day",
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="Length of the top rejected and added lists.")] = 10,
    include_open: Annotated[
        bool, Query(description="Also count open encounters someone decided on (default: finalized only).")
    ] = False,
) -> Any:
    """Acceptance rate of the model's suggestions by pack version, over time and by code, and the
    codes coders most often reject and most often add by hand (the model's blind spots). Counts
    each code's final state on an encounter; finalized encounters only unless `include_open`."""
    query = FeedbackQuery(
        since=since, until=until, pack=pack, system=system, bucket=bucket, top=top, include_open=include_open
    )
    return FeedbackAnalytics(review.store).report(query)
