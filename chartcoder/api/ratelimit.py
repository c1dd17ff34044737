"""Per-caller rate limits: a budget per minute and a cap per second for each person, API key and
static key (sign-in attempts have their own budgets: chartcoder/api/signin.py).

Counting is the `limits` library's moving window (exact: "at most N in any 60 s"), so a refusal can
say exactly when the next request will be accepted (`Retry-After`). Counts live where
`CHARTCODER_RATE_LIMIT_STORAGE` says: `memory://` (the default) keeps them in each API process, so
with N processes behind a load balancer a caller gets up to N times its budget; a `redis://` URI
gives every process one shared count. The review database is not used for this: a write per request
would queue every request behind SQLite's single writer.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from chartcoder.accounts import credentials as auth
from chartcoder.accounts.principal import Principal
from chartcoder.config import Settings
from chartcoder.domain.errors import ChartcoderError

log = logging.getLogger("chartcoder.api")


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: which budget, its limit in words, and seconds until one is free."""

    budget: str
    limit: str
    retry_after: int
    detail: str | None = None  # the sign-in budgets say which of them it is in their own words

    @property
    def message(self) -> str:
        if self.detail:
            return self.detail
        who = "from this address" if self.budget == "login" else "for this caller"
        return (
            f"rate limit reached: at most {self.limit} {who}; retry in {self.retry_after} s "
            "(the Retry-After header says the same)"
        )


class SignInThrottled(ChartcoderError):
    """A sign-in refused before its password was checked (chartcoder/api/signin.py): answered 429."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal
        super().__init__(refusal.message)


class RateLimiter:
    """Checks a request against its caller's budgets. `check` counts the request and
    answers None when it may go ahead, else a Refusal."""

    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(settings.rate_limit_storage)
        self._blocking = not isinstance(storage, MemoryStorage)  # a network store: off the event loop
        self._window = MovingWindowRateLimiter(storage)
        self._person = _per_minute(settings.rate_limit_per_minute)
        self._ehr = _per_minute(settings.rate_limit_ehr_per_minute)
        self._burst = RateLimitItemPerSecond(settings.rate_limit_burst) if settings.rate_limit_burst else None

    async def check(self, who: Principal, token: str | None) -> Refusal | None:
        budget = "ehr" if who.role == "ehr" else ("person" if who.user_id is not None else "key")
        items = [
            (i, name)
            for i, name in ((self._burst, "burst"), (self._ehr if budget == "ehr" else self._person, budget))
            if i
        ]
        if not items:
            return None
        key = caller_key(who, token)
        if self._blocking:
            return await run_in_threadpool(self._hit, items, key)
        return self._hit(items, key)

    def _hit(self, items: list[tuple[RateLimitItem, str]], key: str) -> Refusal | None:
        try:
            for item, budget in items:
                if not self._window.hit(item, "chartcoder", key):
                    reset, _ = self._window.get_window_stats(item, "chartcoder", key)
                    wait = max(1, math.ceil(reset - time.time()))
                    return Refusal(budget, _describe(item), wait)
        except Exception as exc:  # a shared store that is away: serve rather than refuse everyone
            log.warning("rate-limit storage unavailable (%s); request not counted", type(exc).__name__)
        return None


def caller_key(who: Principal, token: str | None) -> str:
    """One budget per person (all their sessions together), per stored key, per static key (the
    static keys share a principal, so the key's digest tells them apart), and per named client
    otherwise (a CDS client's JWTs change every request; its configured name does not)."""
    if who.user_id is not None:
        return f"user:{who.user_id}"
    if who.key_id is not None:
        return f"key:{who.key_id}"
    if who.username == "key:static":
        return "static:" + auth.token_digest(token or "")[:16]
    return f"client:{who.username}"


def _per_minute(n: int) -> RateLimitItem | None:
    return RateLimitItemPerMinute(n) if n else None


def _describe(item: RateLimitItem) -> str:
    unit = "second" if isinstance(item, RateLimitItemPerSecond) else "minute"
    return f"{item.amount} requests per {unit}"
