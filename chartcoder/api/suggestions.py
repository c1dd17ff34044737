"""Suggestion and code lookup routes: rank codes for a note (with the evidence for each), search
the code sets, show one code. Open to every signed-in role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool

from chartcoder.api.deps import SettingsDep, current_principal, suggestion_service
from chartcoder.api.schemas.common import ERRORS, ErrorOut
from chartcoder.api.schemas.suggestions import CodeDetail, CodeOut, SuggestionRequest, SuggestionResponse
from chartcoder.domain.errors import InvalidInputError
from chartcoder.models.pool import PooledService
from chartcoder.models.service import SuggestionService

router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)], responses=ERRORS)  # every role


@router.post(
    "/suggestions",
    response_model=SuggestionResponse,
    tags=["suggestions"],
    responses={503: {"model": ErrorOut}},
)
async def create_suggestions(
    body: SuggestionRequest,
    settings: SettingsDep,
    service: Annotated[SuggestionService, Depends(suggestion_service)],
) -> Any:
    """Rank ICD-10-CM and CPT/HCPCS codes for a note; every suggestion carries its evidence spans,
    whose offsets slice `text` to exactly the evidence text. The note is coded by a worker
    process under a time budget (503 `suggestion_budget_exceeded` past it), queued fairly among
    callers (429 `suggestion_queue_full` past CHARTCODER_SUGGEST_QUEUE_PER_CALLER)."""
    args = (body.text, body.encounter.to_domain(), body.top_k, settings.max_note_chars)
    if isinstance(service, PooledService):
        result = await service.asuggest(*args)
    else:
        result = await run_in_threadpool(service.suggest, *args)
    return result.to_dict(body.id)


@router.get("/codes/search", response_model=list[CodeOut], tags=["codes"])
def search_codes(
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Words or a code prefix (up to 8 words)")],
    system: Annotated[str, Query(pattern="^(ICD-10-CM|CPT|HCPCS|all)$")] = "all",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    billable_only: bool = False,
) -> Any:
    from chartcoder.codes.lookup import search

    if len(q.split()) > 8:
        raise InvalidInputError("'q' has more than 8 words; search with fewer, more specific words.")
    return [c.__dict__ for c in search(q, system=system, limit=limit, billable_only=billable_only, settings=settings)]


@router.get("/codes/{system}/{code}", response_model=CodeDetail, tags=["codes"], responses={404: {"model": ErrorOut}})
def show_code(settings: SettingsDep, system: str, code: Annotated[str, Path(min_length=1, max_length=16)]) -> Any:
    from chartcoder.codes.lookup import show

    if system not in {"ICD-10-CM", "CPT", "HCPCS"}:
        raise InvalidInputError(f"'system' must be ICD-10-CM, CPT or HCPCS; got {system!r}.")
    return show(code, system, settings)
