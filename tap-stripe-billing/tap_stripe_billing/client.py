"""Stripe access: the ``stripe`` library's StripeClient behind a rate limiter, retries and counters.

Requests go through ``StripeClient.raw_request`` and are read as plain JSON dicts: building the typed
``StripeObject`` tree costs more per record than the tap needs (measured by
``python -m benchmarks.bench_stripe_parsing``), and the record logic
works on dicts in both payload shapes anyway. Query strings are built here (``types[]=…``,
``expand[]=…``, ``created[gte]=…``) so that the wire format is exactly what Stripe documents.

The library's own retries are off (``max_network_retries=0``: it only retries a 429 that carries
``Stripe-Should-Retry: true``); this module retries 429, 5xx and connection errors with exponential
backoff and full jitter (waiting longer when Stripe's ``Retry-After`` asks for it), then fails with one
clear message. Every HTTP attempt is counted by endpoint. Request starts are paced under two limits:
all requests together, and each endpoint on its own (Stripe's 25/s per endpoint by default).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import stripe

from tap_stripe_billing.errors import AccountUnavailableError, StripeAccessError, redact
from tap_stripe_billing.pacing import (
    BACKOFF_CAP_SECONDS,
    MAX_RETRIES,
    RateLimiter,
    backoff_delay,
    retry_after,
)
from tap_stripe_billing.settings import DEFAULTS  # the defaults live in the config schema only

__all__ = ["RateLimiter", "StripeAPI", "backoff_delay", "build_path", "endpoint_name", "list_params"]

QueryParams = Sequence[tuple[str, Any]]


def endpoint_name(method: str, path: str) -> str:
    """``GET /v1/invoices/in_123/lines?x=1`` → ``GET /v1/invoices/{id}/lines`` (for counters)."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) > 3:
        parts[3] = "{id}"
    return f"{method.upper()} {'/'.join(parts)}"


def resource_name(path: str) -> str:
    """The Stripe resource a path reads, for error messages: ``/v1/invoices/x/lines`` → ``invoices``."""
    parts = path.split("?", 1)[0].split("/")
    return parts[2] if len(parts) > 2 else path


PAGE_SIZE = 100  # Stripe's largest page


def list_params(
    gte: int | None = None, lt: int | None = None, *, limit: int = PAGE_SIZE
) -> list[tuple[str, Any]]:
    """The ``created[gte]``/``created[lt]`` bounds (each only when given) and ``limit`` of every list
    read: callers put their filters before these and their ``expand[]`` after."""
    params: list[tuple[str, Any]] = []
    if gte is not None:
        params.append(("created[gte]", gte))
    if lt is not None:
        params.append(("created[lt]", lt))
    params.append(("limit", limit))
    return params


def build_path(path: str, params: QueryParams = ()) -> str:
    """Path plus query string, brackets kept literal as in Stripe's docs."""
    if not params:
        return path
    return f"{path}?{urlencode([(k, _wire(v)) for k, v in params], safe='[]')}"


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _account_refused(exc: stripe.StripeError) -> bool:
    """A 403 about the ``Stripe-Account`` itself (code ``account_invalid``), not a missing permission.
    (stripe-python sets no ``code`` on a PermissionError: the code is in the body's error object.)"""
    body_error = getattr(exc, "error", None)
    if "account_invalid" in (exc.code, getattr(body_error, "code", None)):
        return True
    return "does not have access to account" in str(exc.user_message or "")


def _is_retryable(exc: stripe.StripeError) -> bool:
    if isinstance(exc, (stripe.RateLimitError, stripe.APIConnectionError)):
        return True
    status = exc.http_status
    return status is None or status == 429 or status >= 500


class StripeAPI:
    """A small, thread-safe Stripe reader: one per run, shared by every stream and thread (so its rate
    limits hold for the run). ``requests`` and ``retries`` count the run's attempts by endpoint."""

    def __init__(
        self,
        api_key: str,
        api_url: str = DEFAULTS["api_url"],
        *,
        max_requests_per_second: float = DEFAULTS["max_requests_per_second"],
        max_requests_per_second_per_endpoint: float | None = DEFAULTS["max_requests_per_second_per_endpoint"],
        backoff_base: float = DEFAULTS["backoff_base_seconds"],
        max_retries: int = MAX_RETRIES,
        backoff_cap: float = BACKOFF_CAP_SECONDS,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_url.rstrip("/")},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self._limiter = RateLimiter(
            max_requests_per_second, per_endpoint=max_requests_per_second_per_endpoint
        )
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = random.Random()
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._server_time: list[int | None] = [None]  # shared with the account views (for_account)
        self.account: str | None = None  # the Stripe-Account this view sends (None: the key's own)
        self.account_requests: Counter[str] = Counter()  # by account (connected accounts only)
        self.refused: dict[str, AccountUnavailableError] = {}  # accounts Stripe refused, shared by views

    def for_account(self, account_id: str) -> StripeAPI:
        """A view of this client that sends ``Stripe-Account: account_id`` with every request.

        It shares the client, the counters, Stripe's clock and the rate limiter: Stripe measures rate
        limits per account (https://docs.stripe.com/rate-limits: "requests per second, per Stripe
        account"), and its Connect guide (https://docs.stripe.com/connect/authentication) names no separate
        budget for requests a platform makes with ``Stripe-Account``, under its own key; so the tap counts
        them against the platform: one limiter for every account a run reads, and the shards of one
        platform share Stripe's 100 requests/s between them (README "Connect accounts").
        """
        view = copy.copy(self)
        view.account = account_id
        return view

    @property
    def server_time(self) -> int | None:
        """Stripe's time from the last ``Date`` header (None before the first answer)."""
        return self._server_time[0]

    @server_time.setter
    def server_time(self, value: int | None) -> None:
        self._server_time[0] = value

    # -- Stripe's clock -----------------------------------------------------------------------------
    def clock(self) -> int:
        """Stripe's "now" (its ``Date`` header), asking once if nothing was read yet.

        Read windows are cut on Stripe's clock, not this machine's, so a skewed local clock can neither
        skip events nor read into Stripe's future. The probe (one paid invoice) also proves, before any
        record, that the key is accepted and may read invoices. Without a Date header: the local clock.
        """
        if self.server_time is None:
            self.get("/v1/invoices", [("status", "paid"), *list_params(limit=1)])
        return self.server_time if self.server_time is not None else int(time.time())

    def _note_server_time(self, headers: Any) -> None:
        value = headers.get("Date") if headers is not None else None
        if not value:
            return
        try:
            stamp = int(parsedate_to_datetime(value).timestamp())
        except (TypeError, ValueError):
            return
        with self._lock:
            self.server_time = stamp

    # -- single requests ----------------------------------------------------------------------------
    def get(
        self,
        path: str,
        params: QueryParams = (),
        *,
        missing_ok: bool = False,
        stripe_version: str | None = None,
    ) -> dict[str, Any] | None:
        """GET a path; the JSON body as a dict. With ``missing_ok``, a 404 gives None; with
        ``stripe_version``, the object is rendered in that API version (Stripe's per-request
        ``Stripe-Version`` header) instead of the pinned one."""
        url = build_path(path, params)
        endpoint = endpoint_name("GET", path)
        if self.account is not None and self.account in self.refused:
            # refused once this run: no more requests for it
            raise AccountUnavailableError(self.account, str(self.refused[self.account]))
        attempt = 0
        while True:
            self._limiter.acquire(endpoint)
            with self._lock:
                self.requests[endpoint] += 1
                if self.account is not None:
                    self.account_requests[self.account] += 1
            options: dict[str, str] = {}
            if stripe_version is not None:
                options["stripe_version"] = stripe_version
            if self.account is not None:
                options["stripe_account"] = self.account
            try:
                response = self._client.raw_request("get", url, **options)
            except stripe.StripeError as exc:
                if missing_ok and exc.http_status == 404:
                    return None
                if _is_retryable(exc) and attempt < self._max_retries:
                    with self._lock:
                        self.retries[endpoint] += 1
                    self._sleep(self._retry_delay(attempt, exc))
                    attempt += 1
                    continue
                error = self._translate(exc, path, attempts=attempt + 1)
                if isinstance(error, AccountUnavailableError):
                    with self._lock:
                        self.refused.setdefault(error.account_id, error)
                raise error from None
            self._note_server_time(getattr(response, "headers", None))
            data = response.data
            if not isinstance(data, dict):
                raise StripeAccessError(f"Stripe returned a non-object body for GET {path}")
            return data

    def _retry_delay(self, attempt: int, exc: stripe.StripeError) -> float:
        """The backoff, or longer when Stripe's ``Retry-After`` asks for longer."""
        delay = backoff_delay(attempt, self._backoff_base, self._backoff_cap, self._rng)
        asked = retry_after(getattr(exc, "headers", None))
        return delay if asked is None else max(delay, asked)

    def _translate(self, exc: stripe.StripeError, path: str, *, attempts: int) -> StripeAccessError:
        resource = resource_name(path)
        status = exc.http_status
        if isinstance(exc, stripe.AuthenticationError) or status == 401:
            return StripeAccessError("Stripe rejected the API key (401 Unauthorized): check api_key")
        if self.account is not None and status == 403 and _account_refused(exc):
            # Stripe's answer for a connected account the platform may no longer read (access revoked, or
            # no such account): 403, code account_invalid (https://docs.stripe.com/error-codes).
            return AccountUnavailableError(
                self.account,
                f"Stripe refused access to account {self.account} (403 account_invalid on GET {path}:"
                " the platform's access may have been revoked)",
            )
        if isinstance(exc, stripe.PermissionError) or status == 403:
            return StripeAccessError(
                f"The Stripe key may not read {resource} (403 Forbidden on GET {path}): "
                f"give the restricted key read access to {resource}"
            )
        if _is_retryable(exc):
            what = "rate limited (429)" if status == 429 else (f"HTTP {status}" if status else "unreachable")
            return StripeAccessError(
                f"Stripe request GET {path} failed after {attempts} attempts: {what}: "
                f"{redact(exc.user_message or type(exc).__name__)}"
            )
        return StripeAccessError(
            f"Stripe refused GET {path} (HTTP {status}): {redact(exc.user_message or type(exc).__name__)}"
        )

    # -- lists ------------------------------------------------------------------------------------------
    def list_pages(self, path: str, params: QueryParams = ()) -> Iterator[list[dict[str, Any]]]:
        """Every page of a Stripe list (newest first), following ``starting_after``."""
        cursor: str | None = None
        while True:
            page_params = list(params)
            if cursor is not None:
                page_params.append(("starting_after", cursor))
            body = self.get(path, page_params)
            assert body is not None
            data: list[dict[str, Any]] = body.get("data") or []
            if data:
                yield data
            if not body.get("has_more") or not data:
                return
            cursor = str(data[-1]["id"])

    def list_all(self, path: str, params: QueryParams = ()) -> Iterator[dict[str, Any]]:
        """Every object of a Stripe list."""
        for page in self.list_pages(path, params):
            yield from page

    def request_summary(self) -> dict[str, int]:
        """Requests made so far, by endpoint (retried attempts included)."""
        with self._lock:
            return dict(sorted(self.requests.items()))
