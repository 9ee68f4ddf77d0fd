"""The Stripe client's defaults the tap relies on, pinned (mutation testing, scripts/mutation.sh client).

The tap builds its reader with the api key, URL, rate and backoff base (``base.build_api``) and relies
on the defaults for the rest: 6 retries, a 30 s backoff cap, the real sleep. The jitter is pinned by an
RNG that always draws the top (or the bottom) of its range; nothing sleeps for real.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from tap_stripe_billing.client import StripeAPI, resource_name
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
    assert _Recording.paths == ["/v1/invoices?limit=1&status=paid"]


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
