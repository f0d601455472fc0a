"""Sends API requests under the client's retry policy (see lib.outreach.client's module
comment): one try at a time within the rate budget, the waits on the injected sleep or the
read's cancel event, one token refresh on a 401, and a create never repeated once the server
may have made the call."""

# urllib3's Retry is the policy's record: how many retries (`total`), the backoff's factor and
# cap, and which methods may be repeated after the server may have acted (`allowed_methods`,
# urllib3's idempotent ones: POST is not among them); `increment` counts the tries and says when
# they are spent (MaxRetryError). urllib3 never waits here (its sleep is the wall clock's): the
# loop waits for as long as lib.outreach.waiting says, through `sleep` for a request of its own
# and through `wait(seconds, cancel)` for a page of a read, so that the read's first failure
# cuts the other pages' backoffs and rate waits short (lib.outreach.paging sets `cancel`).

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.util import Retry

from lib.outreach.answers import Fault, judge
from lib.outreach.auth import USER_AGENT
from lib.outreach.dialect import Dialect
from lib.outreach.errors import ApiUnavailable, RateLimited
from lib.outreach.waiting import RateQuota, backoff_delay

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
# A wait a cancel event can cut: True (or the event set) when it was cut.
Wait = Callable[[float, threading.Event], bool]


_WAIT_SLICE_S = 0.05  # how soon a cut wait notices its cancel event


def event_wait(seconds: float, cancel: threading.Event) -> bool:
    """The real wait of a read's page, cut short when its cancel event is set (a failure
    elsewhere in the read); True when it was cut.

    Short relative sleeps rather than `cancel.wait(seconds)`: an Event's timed wait sleeps to an
    absolute wall-clock deadline, which a shifted clock (faketime in our tests, a clock stepped
    by NTP in production) can move hours away; a relative sleep always ends on time.
    """
    deadline = time.monotonic() + max(0.0, seconds)
    while not cancel.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(_WAIT_SLICE_S, left))
    return True


def sleep_then_look(sleep: Sleep) -> Wait:
    """A wait through an injected `sleep` (tests: no wait, or a move of the sandbox's clock),
    then a look at the event: cut, if it was set meanwhile."""

    def wait(seconds: float, cancel: threading.Event) -> bool:
        sleep(seconds)
        return cancel.is_set()

    return wait


class Auth(Protocol):
    """What the client needs from lib.outreach.auth's StaticToken / RefreshingToken."""

    def access_token(self) -> str: ...

    def refresh_after_401(self, rejected: str | None = None) -> bool: ...


class Transport:
    """The client's HTTP: `request` answers the JSON object of one API request, after the
    retries; safe to share between threads, with at most `max_in_flight` requests in flight."""

    def __init__(self, base_url: str, auth: Auth, dialect: Dialect, *,
                 session: requests.Session, timeout: float | tuple[float, float], retry: Retry,
                 quota: RateQuota, sleep: Sleep, wait: Wait, max_in_flight: int) -> None:
        self.base_url = base_url
        self.auth = auth
        self.dialect = dialect
        self.session = session
        self.timeout = timeout
        self.retry = retry
        self.quota = quota
        self._sleep = sleep
        self._wait = wait
        # Every read has its own pool of threads; this bounds the requests in flight across all
        # of them (two dashboard sessions reading at once share one client).
        self._in_flight = threading.BoundedSemaphore(max_in_flight)

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                body: Any = None, what: str | None = None,
                cancel: threading.Event | None = None) -> dict[str, Any]:
        """The JSON object answered, or the typed error (lib.outreach.errors) once the policy
        gives up. `what` names the request in messages; `cancel` (a read's) abandons it
        between tries and cuts its waits short (ApiUnavailable, "abandoned")."""
        what = what or f"{method} {path}"
        retry = self.retry
        refreshed = False

        def pause(seconds: float) -> None:
            if cancel is None:
                self._sleep(seconds)
            elif self._wait(seconds, cancel) or cancel.is_set():
                raise _abandoned(what)

        while True:
            if cancel is not None and cancel.is_set():
                raise _abandoned(what)
            token = self.auth.access_token()
            self.quota.throttle(what, pause)  # within the budget, or QuotaExhausted
            try:
                response = self._send(method, path, token, params, body)
            except requests.RequestException as exc:
                outcome: dict[str, Any] | Fault = Fault(_describe(exc),
                                                        sent=not _failed_before_sending(exc))
            else:
                if response.status_code != 401:
                    # A refused token's counters are nobody's (the sandbox makes them up).
                    self.quota.note(response.headers)
                if response.status_code == 401 and not refreshed:
                    refreshed = True
                    if self.auth.refresh_after_401(token):
                        continue  # a renewed token is a fresh start, not a fault's retry
                outcome = judge(response, what, method, path, self.dialect)
            finally:
                self.quota.settle()
            if not isinstance(outcome, Fault):
                return outcome
            retry, delay, retry_at = self._after(outcome, retry, method, path, what)
            log.info("%s: %s; retry %d of %d in %.1f s", what, outcome.problem,
                     len(retry.history), self.retry.total, delay)
            pause(delay)
            if retry_at is not None:
                self.quota.waited_for(retry_at)

    def _send(self, method: str, path: str, token: str, params: Mapping[str, str] | None,
              body: Any) -> requests.Response:
        """One try. The token travels only in the Authorization header."""
        headers = {"Authorization": f"Bearer {token}", "Accept": self.dialect.media_type,
                   "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = self.dialect.media_type
        with self._in_flight:
            return self.session.request(
                method, self.base_url + path, params=params, headers=headers,
                data=None if body is None else json.dumps(body).encode(), timeout=self.timeout)

    def _after(self, fault: Fault, retry: Retry, method: str, path: str,
               what: str) -> tuple[Retry, float, datetime | None]:
        """The Retry counting this failed try, the seconds to wait before the next and, after
        a 429, until when; raises instead when the policy gives up."""
        tries = len(retry.history) + 1
        retry_at: datetime | None = None
        if fault.status == 429:
            # Refused before anything was done: safe to repeat, even a create.
            delay, retry_at = self.quota.wait_after_429(fault.headers, self._backoff(tries))
            if delay > self.quota.max_wait:
                # Waiting that long inside a page load helps nobody: say when instead.
                raise RateLimited(f"{what} was rate limited (HTTP 429) until "
                                  f"{retry_at:%Y-%m-%d %H:%M:%S} UTC.", retry_at=retry_at)
        else:
            if fault.sent and method.upper() not in retry.allowed_methods:
                raise _maybe_done(what, fault)
            delay = self._backoff(tries)
        try:
            return retry.increment(method, self.base_url + path), delay, retry_at
        except MaxRetryError:
            detail = f"{what} failed after {tries} tries: {fault.problem}"
            if fault.status == 429:
                raise RateLimited(detail, retry_at=retry_at) from None
            raise ApiUnavailable(detail, status=fault.status) from None

    def _backoff(self, tries: int) -> float:
        return backoff_delay(tries, self.retry.backoff_factor, self.retry.backoff_max)


def _abandoned(what: str) -> ApiUnavailable:
    return ApiUnavailable(f"{what} was abandoned because another page failed.")


def _maybe_done(what: str, fault: Fault) -> ApiUnavailable:
    """The error of a create that may have been made: repeating it could log the call twice."""
    if fault.status is None:
        return ApiUnavailable(
            f"{what} {fault.problem} after the request was sent; it was not repeated because "
            "the call may have been created. Check before trying again.")
    return ApiUnavailable(
        f"{what} answered {fault.problem}; the call may have been created, so it was not "
        "repeated. Check before trying again.", status=fault.status)


def _failed_before_sending(exc: requests.RequestException) -> bool:
    """True when the connection could not even be opened, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
        # urllib3's NewConnectionError (refused, unresolvable) is a ConnectTimeoutError too.
        return isinstance(reason, ConnectTimeoutError)
    return False


def _describe(exc: requests.RequestException) -> str:
    # The type only: requests' messages hold URLs and socket details nobody needs to read.
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return f"transport error ({type(exc).__name__})"
