"""Sign-in throttling: per (account, address) pair, per account and per address together.

Every password attempt is counted before the password is checked (so parallel guesses count too)
and forgotten again for the pair when it succeeds. Three budgets:

- **pair** (one account from one address): after `signin_pair_free_failures` failures the pair
  waits 1 s, then 2, 4, 8, ... up to `signin_max_backoff_seconds` between attempts. It applies to
  everyone, the account's owner included, and is the strictest.
- **account** (all addresses together): after `signin_account_free_failures` failures the same
  doubling wait, for addresses that have *not* signed in to that account in the last
  `signin_known_address_days`. Guessing from many addresses gains nothing, and a stranger cannot
  keep the owner out at an address the owner has used.
- **address** (all accounts from one address): at most `rate_limit_login_per_minute` attempts a
  minute, again sparing known (account, address) pairs, so one person spraying passwords behind a
  hospital's shared NAT address does not lock the people who work there out.

A browser that signed in to an account gets a device cookie (a random token; the server keeps only
its digest, per account, for `signin_known_address_days`). An attempt that presents it is counted as
coming from that device, not from its address: its pair budget is its own and the account and address
limits spare it, so a stranger behind the same shared address, failing on purpose, cannot keep the
owner's own browser waiting (the owner's attempts from elsewhere still wait as before).

The counts are kept by the `limits` storage `CHARTCODER_RATE_LIMIT_STORAGE` names (per process with
memory://, shared with redis://). Accounts are keyed by a digest of the normalized user name, known
or not, so a refusal says nothing about whether an account exists.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from chartcoder import metrics
from chartcoder.accounts.names import normalize_username
from chartcoder.api.ratelimit import Refusal
from chartcoder.config import Settings

log = logging.getLogger("chartcoder.api")


class SignInThrottle:
    """`begin` before a password is checked (None: go ahead, else the Refusal to answer with 429);
    then `succeeded` or `failed` with its outcome."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.settings = settings
        found = storage or storage_from_string(settings.rate_limit_storage)
        if not isinstance(found, Storage):
            raise TypeError(f"{settings.rate_limit_storage!r} is an async storage; use a synchronous one")
        self.storage: Storage = found
        self._window = MovingWindowRateLimiter(self.storage)
        n = settings.rate_limit_login_per_minute
        self._per_address = RateLimitItemPerMinute(n) if n else None

    # -- keys ----------------------------------------------------------------------------------
    @staticmethod
    def _account(username: str) -> str:
        return hashlib.sha256(normalize_username(username).encode()).hexdigest()[:32]

    def _device(self, username: str, device: str | None) -> str | None:
        """'dev:<digest>' when `device` is a device token this account handed out and still knows."""
        if not device or len(device) > 128 or self.settings.signin_known_address_days <= 0:
            return None
        digest = hashlib.sha256(device.encode()).hexdigest()[:32]
        known = self.storage.get(f"signin:device:{self._account(username)}|{digest}") > 0
        return f"dev:{digest}" if known else None

    def _keys(self, username: str, address: str) -> dict[str, str]:
        acct = self._account(username)
        return {
            "pair": f"signin:fail:pair:{acct}|{address}",
            "pair_wait": f"signin:wait:pair:{acct}|{address}",
            "account": f"signin:fail:acct:{acct}",
            "account_wait": f"signin:wait:acct:{acct}",
            "known": f"signin:known:{acct}|{address}",
        }

    # -- the three steps -------------------------------------------------------------------------
    def begin(self, username: str, address: str, device: str | None = None) -> Refusal | None:
        try:
            place = self._device(username, device)
            refusal = self._begin(username, place or address, known_device=place is not None)
        except Exception as exc:  # a shared store that is away: sign-in goes on, uncounted
            log.warning("sign-in throttle storage unavailable (%s); attempt not counted", type(exc).__name__)
            return None
        if refusal is not None:
            metrics.sign_in_failed("throttled")
        return refusal

    def _begin(self, username: str, address: str, known_device: bool = False) -> Refusal | None:
        s, k = self.settings, self._keys(username, address)
        known = known_device or (s.signin_known_address_days > 0 and self.storage.get(k["known"]) > 0)
        if wait := self._waiting(k["pair_wait"]):
            return Refusal(
                "signin_pair",
                f"{s.signin_pair_free_failures} failed sign-ins, then a doubling wait",
                wait,
                f"too many failed sign-ins to this account from this address; retry in {wait} s "
                "(the Retry-After header says the same)",
            )
        if not known and (wait := self._waiting(k["account_wait"])):
            return Refusal(
                "signin_account",
                f"{s.signin_account_free_failures} failed sign-ins, then a doubling wait",
                wait,
                f"too many failed sign-ins to this account; from an address that has not signed in to it "
                f"before, retry in {wait} s (the Retry-After header says the same)",
            )
        per_address = None if known else self._per_address
        if per_address is not None and not self._window.hit(per_address, "signin-addr", address):
            reset, _ = self._window.get_window_stats(per_address, "signin-addr", address)
            wait = max(1, math.ceil(reset - time.time()))
            return Refusal("login", f"{per_address.amount} requests per minute", wait)
        # Counted now, before the password is checked, so that parallel guesses count as well.
        memory = s.signin_failure_memory_seconds
        self._count(k["pair"], k["pair_wait"], s.signin_pair_free_failures, memory)
        self._count(k["account"], k["account_wait"], s.signin_account_free_failures, memory)
        return None

    def succeeded(self, username: str, address: str, device: str | None = None) -> str | None:
        """The pair's count starts over and the address is known to the account; the account's
        count takes this attempt back (the failures of others stay counted). Answers the device token
        for the browser to keep (the one it sent when still known, else a new one; None when off)."""
        place = self._device(username, device)
        token = device if place is not None else secrets.token_urlsafe(24)
        k = self._keys(username, place or address)
        days = self.settings.signin_known_address_days
        try:
            digest = hashlib.sha256(token.encode()).hexdigest()[:32]  # type: ignore[union-attr]
            self._known(f"signin:device:{self._account(username)}|{digest}", days)
            if place is not None:  # the address the device signed in from is known too
                self._known(self._keys(username, address)["known"], days)
            self.storage.clear(k["pair"])
            self.storage.clear(k["pair_wait"])
            if self.storage.get(k["account"]) > 0:
                self.storage.incr(k["account"], self.settings.signin_failure_memory_seconds, amount=-1)
            self._known(k["known"], days)
        except Exception as exc:
            log.warning("sign-in throttle storage unavailable (%s)", type(exc).__name__)
        return token if days > 0 else None

    def _known(self, key: str, days: int) -> None:
        if days > 0:
            self.storage.clear(key)
            self.storage.incr(key, days * 86_400)

    def failed(self, username: str, address: str, device: str | None = None) -> None:
        """A checked password that was wrong (or an unknown or inactive account): counted by `begin`
        already; the waits it earned start again now, after the (slow) check, and the metrics count it."""
        metrics.sign_in_failed("bad_credentials")
        try:
            place = self._device(username, device)
        except Exception:
            place = None
        s, k = self.settings, self._keys(username, place or address)
        try:
            self._wait_after(self.storage.get(k["pair"]), k["pair_wait"], s.signin_pair_free_failures)
            self._wait_after(self.storage.get(k["account"]), k["account_wait"], s.signin_account_free_failures)
        except Exception as exc:
            log.warning("sign-in throttle storage unavailable (%s)", type(exc).__name__)

    # -- helpers ---------------------------------------------------------------------------------
    def _waiting(self, key: str) -> int:
        if self.storage.get(key) <= 0:
            return 0
        return max(1, math.ceil(self.storage.get_expiry(key) - time.time()))

    def _count(self, counter: str, wait_key: str, free: int, memory: int) -> None:
        self._wait_after(self.storage.incr(counter, memory), wait_key, free)

    def _wait_after(self, failures: int, wait_key: str, free: int) -> None:
        """From the `free`-th failure on: wait 1 s, then 2, 4, ... up to the cap, starting now."""
        if failures >= free:
            wait = min(2 ** min(failures - free, 30), self.settings.signin_max_backoff_seconds)
            self.storage.clear(wait_key)
            self.storage.incr(wait_key, wait)


def client_address(request: Any) -> str:
    """The address a request came from, as the proxy settings let the app see it."""
    return request.client.host if request.client else "-"
