"""The Stripe client's defaults the tap relies on, pinned (mutation testing, scripts/mutation.sh client).

The tap builds its reader with the api key, URL, rate and backoff base (``base.build_api``) and relies
on the defaults for the rest: 6 retries, a 30 s backoff cap, the real sleep. The jitter is pinned by an
RNG that always draws the top (or the bottom) of its range; nothing sleeps for real.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import unquote

import pytest
import stripe
from tap_stripe_billing.client import StripeAPI, _is_retryable, endpoint_name, list_params, resource_name
from tap_stripe_billing.errors import StripeAccessError

from stand_ins.common import StandInHandler, StandInServer

KEY = "sk_live_51MutantsKeyABCDEFGH12345678"


class _Failing(StandInHandler):
    seen: ClassVar[int] = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).seen += 1
        self.send_json(500, {"error": {"message": "Try later", "type": "api_error"}}, {})


@pytest.fixture
def failing() -> Iterator[StandInServer]:
    _Failing.seen = 0
    with StandInServer(_Failing) as srv:
        yield srv


class _Top(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


class _Bottom(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def _slept_until_failure(url: str, **options: Any) -> list[float]:
    slept: list[float] = []
    api = StripeAPI(KEY, url, max_requests_per_second=1000, sleep=slept.append, **options)
    with pytest.raises(StripeAccessError) as info:
        api.get("/v1/invoices")
    assert str(info.value) == (
        f"Stripe request GET /v1/invoices failed after {len(slept) + 1} attempts: HTTP 500: Try later"
    )
    assert api.retries == {"GET /v1/invoices": len(slept)}
    return slept


def test_six_retries_by_default_with_exponential_backoff_from_half_a_second(
    failing: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "Random", _Top)
    assert _slept_until_failure(failing.url) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert _Failing.seen == 7


def test_the_backoff_is_capped_at_30_seconds_by_default(
    failing: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "Random", _Top)
    assert _slept_until_failure(failing.url, backoff_base=2.0) == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_jitter_waits_at_least_a_tenth_of_the_backoff(
    failing: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "Random", _Bottom)
    slept = _slept_until_failure(failing.url, max_retries=3, backoff_base=2.0, backoff_cap=5.0)
    assert slept == pytest.approx([0.2, 0.4, 0.5])


class _Recording(StandInHandler):
    """Answers from a script of (status, body), noting every request's path (with its query)."""

    script: ClassVar[list[tuple[int, Any]]] = []
    paths: ClassVar[list[str]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).paths.append(self.path)
            status, body = type(self).script.pop(0) if type(self).script else (200, {"id": "x"})
        self.send_json(status, body, {"Date": "Sun, 01 Nov 2026 00:00:00 GMT"})


@pytest.fixture
def recording() -> Iterator[StandInServer]:
    _Recording.script, _Recording.paths = [], []
    with StandInServer(_Recording) as srv:
        yield srv


def _api(url: str, **options: Any) -> StripeAPI:
    return StripeAPI(KEY, url, max_requests_per_second=1000, sleep=lambda s: None, **options)


def test_the_clock_probe_reads_one_paid_invoice(recording: StandInServer) -> None:
    assert _api(recording.url).clock() == 1_793_491_200
    assert _Recording.paths == ["/v1/invoices?status=paid&limit=1"]


def test_lists_follow_the_last_id_of_each_page_with_the_callers_params(recording: StandInServer) -> None:
    _Recording.script = [
        (200, {"object": "list", "data": [{"id": "in_3"}, {"id": "in_2"}, {"id": "in_1"}], "has_more": True}),
        (200, {"object": "list", "data": [{"id": "in_0"}], "has_more": False}),
    ]
    got = [obj["id"] for obj in _api(recording.url).list_all("/v1/invoices", [("status", "paid")])]
    assert got == ["in_3", "in_2", "in_1", "in_0"]
    assert _Recording.paths == ["/v1/invoices?status=paid", "/v1/invoices?status=paid&starting_after=in_1"]


def test_errors_without_a_message_are_named_by_their_kind(recording: StandInServer) -> None:
    _Recording.script = [(400, {"error": {"type": "invalid_request_error"}})]
    with pytest.raises(StripeAccessError) as info:
        _api(recording.url).get("/v1/customers/cus_1")
    assert str(info.value) == "Stripe refused GET /v1/customers/cus_1 (HTTP 400): InvalidRequestError"
    _Recording.script = [(500, {"error": {"type": "api_error"}})] * 2
    with pytest.raises(StripeAccessError) as info:
        _api(recording.url, max_retries=1).get("/v1/events")
    assert str(info.value) == "Stripe request GET /v1/events failed after 2 attempts: HTTP 500: APIError"


def test_an_unreachable_stripe_is_named_so() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StripeAccessError) as info:
        _api(f"http://127.0.0.1:{port}", max_retries=1).get("/v1/events")
    assert str(info.value).startswith("Stripe request GET /v1/events failed after 2 attempts: unreachable: ")
    assert KEY not in str(info.value)


def test_resource_names_ignore_everything_after_the_first_question_mark() -> None:
    assert resource_name("/v1/invoices?x=a/b?c=d/e") == "invoices"


class _Headers(StandInHandler):
    """Answers 200 with a scripted body, noting each request's path and Stripe-Version header."""

    body: ClassVar[Any] = {"id": "x"}
    seen: ClassVar[list[tuple[str, str | None]]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).seen.append((self.path, self.headers.get("Stripe-Version")))
        self.send_json(200, type(self).body, {})


@pytest.fixture
def headers() -> Iterator[StandInServer]:
    _Headers.body, _Headers.seen = {"id": "x"}, []
    with StandInServer(_Headers) as srv:
        yield srv


def test_a_per_request_api_version_is_sent_only_when_asked(headers: StandInServer) -> None:
    api = _api(headers.url + "/")  # a trailing slash on the URL does not double the path's
    assert api.get("/v1/charges/ch_1", stripe_version="2025-02-24.acacia") == {"id": "x"}
    assert api.get("/v1/charges/ch_1") == {"id": "x"}
    assert _Headers.seen == [
        ("/v1/charges/ch_1", "2025-02-24.acacia"),
        ("/v1/charges/ch_1", stripe.api_version),
    ]
    assert stripe.api_version != "2025-02-24.acacia"


def test_a_body_that_is_not_an_object_is_an_error(headers: StandInServer) -> None:
    _Headers.body = [{"id": "x"}]
    with pytest.raises(StripeAccessError) as info:
        _api(headers.url).get("/v1/invoices")
    assert str(info.value) == "Stripe returned a non-object body for GET /v1/invoices"


def test_counter_names_ignore_everything_after_the_first_question_mark() -> None:
    assert endpoint_name("get", "/v1/events?a=/x?b") == "GET /v1/events"


class _Silent(StandInHandler):
    """Never answers until the test ends."""

    release = threading.Event()

    def do_GET(self) -> None:
        type(self).release.wait(30)


def test_an_answer_that_never_comes_times_out_at_the_configured_timeout() -> None:
    _Silent.release.clear()
    with StandInServer(_Silent) as srv:
        try:
            with pytest.raises(StripeAccessError) as info:
                _api(srv.url, timeout=0.2, max_retries=0).get("/v1/events")
        finally:
            _Silent.release.set()
    assert str(info.value).startswith("Stripe request GET /v1/events failed after 1 attempts: unreachable: ")


def test_list_reads_send_the_created_bounds_given_and_the_page_size(recording: StandInServer) -> None:
    """Each ``created`` bound is sent only when given (Stripe's bracket names), then ``limit``."""
    assert list_params(5, 9) == [("created[gte]", 5), ("created[lt]", 9), ("limit", 100)]
    assert list_params(lt=9, limit=1) == [("created[lt]", 9), ("limit", 1)]
    assert list_params(gte=0) == [("created[gte]", 0), ("limit", 100)]
    assert list_params() == [("limit", 100)]
    _Recording.script = [(200, {"object": "list", "data": [], "has_more": False})]
    list(_api(recording.url).list_all("/v1/events", [("types[]", "invoice.paid"), *list_params(5, 9)]))
    [path] = [unquote(p) for p in _Recording.paths]
    assert path == "/v1/events?types[]=invoice.paid&created[gte]=5&created[lt]=9&limit=100"


def test_a_402_is_refused_with_its_status_not_taken_for_a_bad_key(recording: StandInServer) -> None:
    _Recording.script = [(402, {"error": {"type": "card_error", "message": "Your card was declined."}})]
    with pytest.raises(StripeAccessError) as info:
        _api(recording.url).get("/v1/invoices")
    assert str(info.value) == "Stripe refused GET /v1/invoices (HTTP 402): Your card was declined."


def test_errors_are_retried_when_rate_limited_unanswered_or_5xx() -> None:
    assert _is_retryable(stripe.APIError("no answer"))  # no HTTP status: nothing came back
    assert _is_retryable(stripe.APIError("limited", http_status=429))
    assert _is_retryable(stripe.APIError("down", http_status=503))
    assert not _is_retryable(stripe.InvalidRequestError("bad", None, http_status=400))
    assert not _is_retryable(stripe.APIError("conflict", http_status=409))


class _ShouldRetry(StandInHandler):
    """A 500 that tells stripe-python to retry it (``Stripe-Should-Retry: true``)."""

    seen: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).seen += 1
        body = {"error": {"message": "Try later", "type": "api_error"}}
        self.send_json(500, body, {"Stripe-Should-Retry": "true"})


def test_the_stripe_library_never_retries_on_its_own() -> None:
    """Retries are this client's (counted, paced, backed off); stripe-python's own are off."""
    _ShouldRetry.seen = 0
    with StandInServer(_ShouldRetry) as srv, pytest.raises(StripeAccessError):
        _api(srv.url, max_retries=0).get("/v1/invoices")
    assert _ShouldRetry.seen == 1


class _Timed(StandInHandler):
    """Answers an empty list, noting when each request arrived."""

    arrivals: ClassVar[list[float]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            type(self).arrivals.append(time.monotonic())
        self.send_json(200, {"object": "list", "data": [], "has_more": False}, {})


def _span(paths: list[str], **limits: Any) -> float:
    """Seconds between the first and the last of ``paths`` requested in order by one client. Arrival
    times: the first request's connection set-up can shorten the span a little, never lengthen it."""
    _Timed.arrivals = []
    with StandInServer(_Timed) as srv:
        api = StripeAPI(KEY, srv.url, **limits)
        for path in paths:
            api.get(path)
    return _Timed.arrivals[-1] - _Timed.arrivals[0]


def test_the_overall_rate_holds_across_endpoints() -> None:
    paths = ["/v1/invoices", "/v1/customers", "/v1/prices", "/v1/events", "/v1/refunds"]
    assert _span(paths, max_requests_per_second=10, max_requests_per_second_per_endpoint=1000) >= 0.3


def test_each_endpoint_is_paced_on_its_own() -> None:
    one = ["/v1/invoices"] * 5
    assert _span(one, max_requests_per_second=1000, max_requests_per_second_per_endpoint=10) >= 0.3
    two = ["/v1/invoices", "/v1/customers", "/v1/invoices", "/v1/customers"]  # 0, 0, 0.5, 0.5 s
    assert _span(two, max_requests_per_second=1000, max_requests_per_second_per_endpoint=2) < 1.2  # not 1.5
