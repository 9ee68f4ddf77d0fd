"""The transport pinned where mutation testing (scripts/mutation.sh transport) found it loose.

Fast: an in-process HTTP server on 127.0.0.1 (port 0) answering a scripted list of statuses, and a
batch whose ``abort`` event records the backoff delays instead of sleeping them (no real-time waits).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from target_kissmetrics.redact import REDACTED
from target_kissmetrics.transport import Delivery, Transport
from urllib3.exceptions import SSLError as Urllib3SSLError

KEY = "k+y/secret"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[int | str] = []  # statuses to answer in order ("drop": close, no answer); then 200
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.by_query: dict[str, int] = {}  # a status for requests whose path ends with this query
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.path, dict(self.headers)))
            answer = self.server.script.pop(0) if self.server.script else 200
            for query, status in self.server.by_query.items():
                if self.path.endswith("&" + query):
                    answer = status
        if answer == "drop":
            self.close_connection = True
            return
        self.send_response(int(answer))
        if int(answer) == 302:
            self.send_header("Location", "/moved")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


class _RecordingAbort(threading.Event):
    """A batch's abort event that records backoff waits and returns at once."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            self.waits.append(timeout)
        return self.is_set()


def _transport(url: str, **options: Any) -> Transport:
    options.setdefault("max_concurrency", 1)
    options.setdefault("backoff_base_seconds", 0.0)
    return Transport(url, KEY, **options)


def _batch(transport: Transport, queries: list[str]) -> tuple[Any, _RecordingAbort]:
    delivery = transport.start()
    abort = _RecordingAbort()
    delivery.abort = abort
    transport.send(delivery, queries)
    return transport.wait(delivery), abort


def test_defaults() -> None:
    transport = Transport("http://127.0.0.1:9", KEY)
    assert (transport.max_concurrency, transport.max_retries) == (16, 6)
    assert (transport.backoff_base, transport.backoff_cap) == (0.5, 30.0)
    assert Transport("http://127.0.0.1:9", KEY, max_concurrency=0).max_concurrency == 1


def test_timeouts_read_as_set_and_connect_at_most_ten_seconds() -> None:
    def timeouts(transport: Transport) -> tuple[Any, Any]:
        return transport._pool.timeout.connect_timeout, transport._pool.timeout.read_timeout

    assert timeouts(Transport("http://127.0.0.1:9", KEY)) == (10.0, 15.0)
    assert timeouts(Transport("http://127.0.0.1:9", KEY, timeout_seconds=60)) == (10.0, 60)
    assert timeouts(Transport("http://127.0.0.1:9", KEY, timeout_seconds=0.5)) == (0.5, 0.5)


def test_request_path_key_and_headers(server: _Server) -> None:
    transport = Transport(server.url + "/baseX/", KEY, max_concurrency=0)
    try:
        report = transport.deliver(["_p=a&_n=b"])
    finally:
        transport.close()
    assert report.delivered == [0] and report.failed == [] and report.retried == 0
    assert report.first_error is None
    path, headers = server.seen[0]
    assert path == "/baseX/e?_k=k%2By%2Fsecret&_p=a&_n=b"
    assert headers["User-Agent"] == "target-kissmetrics" and headers["Accept"] == "*/*"
    transport = Transport(server.url, KEY, user_agent="ua/1")
    try:
        transport.deliver(["q"])
    finally:
        transport.close()
    assert server.seen[1][0] == "/e?_k=k%2By%2Fsecret&q" and server.seen[1][1]["User-Agent"] == "ua/1"


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_any_2xx_is_delivered(server: _Server, status: int) -> None:
    server.script = [status]
    transport = _transport(server.url)
    try:
        report, abort = _batch(transport, ["q"])
    finally:
        transport.close()
    assert (report.delivered, report.retried, abort.waits) == ([0], 0, [])


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, "drop"])
def test_retryable_answers_are_retried_with_capped_exponential_jittered_backoff(
    server: _Server, status: int | str
) -> None:
    server.script = [status] * 4
    transport = _transport(
        server.url, max_retries=4, backoff_base_seconds=1.0, backoff_cap_seconds=5.0, seed=7
    )
    try:
        report, abort = _batch(transport, ["q"])
    finally:
        transport.close()
    assert report.delivered == [0] and report.failed == [] and report.retried == 4
    expected = random.Random(7)
    assert abort.waits == [expected.uniform(0, bound) for bound in (1.0, 2.0, 4.0, 5.0)]
    assert len(server.seen) == 5


def test_retries_exhausted_names_the_last_error_and_stops_the_batch(server: _Server) -> None:
    server.script = [503, 503, 503]
    transport = _transport(server.url, max_retries=2)
    try:
        report, abort = _batch(transport, ["q0", "q1", "q2"])
    finally:
        transport.close()
    assert report.delivered == [] and report.failed == [0, 1, 2] and report.retried == 2
    assert report.first_error == "HTTP 503 after 2 retries"
    assert abort.is_set() and len(abort.waits) == 2 and len(server.seen) == 3


@pytest.mark.parametrize("status", [300, 302, 400, 404, 413])
def test_other_answers_are_fatal_at_once(server: _Server, status: int) -> None:
    server.script = [200, status]
    transport = _transport(server.url, max_retries=3)
    try:
        report, abort = _batch(transport, ["q0", "q1", "q2"])
    finally:
        transport.close()
    assert report.delivered == [0] and report.failed == [1, 2] and report.retried == 0
    assert report.first_error == f"HTTP {status} (not retryable)"
    assert abort.waits == [] and len(server.seen) == 2  # the third never started


def test_an_abort_during_a_backoff_ends_the_retry(server: _Server) -> None:
    server.script = [503]
    transport = _transport(server.url, max_retries=3)
    delivery: Delivery = transport.start()

    class _AbortOnWait(_RecordingAbort):
        def wait(self, timeout: float | None = None) -> bool:
            self.set()
            return super().wait(timeout)

    delivery.abort = _AbortOnWait()
    try:
        transport.send(delivery, ["q"])
        report = transport.wait(delivery)
    finally:
        transport.close()
    assert report.failed == [0] and report.retried == 0
    assert report.first_error == "not retried: an earlier event failed"


def test_a_tls_failure_is_fatal_and_never_shows_the_key(server: _Server) -> None:
    transport = _transport(server.url.replace("http://", "https://"), max_retries=3)
    try:
        report, abort = _batch(transport, ["q0", "q1"])
    finally:
        transport.close()
    assert report.failed == [0, 1] and report.retried == 0 and abort.waits == []
    assert (report.first_error or "").startswith("TLS error: ")
    assert "SSL" in (report.first_error or "").removeprefix("TLS error: ").upper()  # the cause, named
    assert "k+y" not in (report.first_error or "") and "k%2By" not in (report.first_error or "")


def test_empty_batches_start_no_workers_and_close_stops_them(server: _Server) -> None:
    def senders() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("kissmetrics-send-")]

    before = senders()
    transport = _transport(server.url, max_concurrency=3)
    report = transport.deliver([])
    assert (report.delivered, report.failed, report.retried, report.first_error) == ([], [], 0, None)
    assert senders() == before
    transport.deliver(["q"])
    assert len(senders()) == len(before) + 3
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("kissmetrics-send-"))
    transport.close()
    assert senders() == before


def test_a_real_error_is_reported_before_an_earlier_requests_not_retried(server: _Server) -> None:
    """Two in flight: "slow" is answered 503 and waits to retry; "bad" is refused for good, which ends
    the wait. The batch's error is the refusal, not the retry that was cut short (listed first)."""

    class _RealWait(_RecordingAbort):
        def wait(self, timeout: float | None = None) -> bool:
            self.waits.append(timeout or 0.0)
            return threading.Event.wait(self, 5)  # returns as soon as the refusal aborts the batch

    server.by_query = {"slow": 503, "bad": 404}
    transport = _transport(server.url, max_concurrency=2, max_retries=3, backoff_base_seconds=10.0)
    delivery = transport.start()
    delivery.abort = _RealWait()
    try:
        transport.send(delivery, ["slow", "bad"])
        report = transport.wait(delivery)
    finally:
        transport.close()
    assert report.failed == [0, 1] and report.retried == 0
    assert report.first_error == "HTTP 404 (not retryable)"


def test_an_aborted_batch_starts_nothing_and_says_so(server: _Server) -> None:
    transport = _transport(server.url)
    delivery = transport.start()
    delivery.abort.set()
    try:
        transport.send(delivery, ["q"])
        report = transport.wait(delivery)
    finally:
        transport.close()
    assert (report.delivered, report.failed, report.retried) == ([], [0], 0)
    assert report.first_error == "not started: an earlier event failed" and server.seen == []


def test_requests_added_while_others_are_in_flight_are_all_waited_for(server: _Server) -> None:
    gate = threading.Event()

    class _Held(_Handler):
        def do_GET(self) -> None:
            gate.wait(5)
            super().do_GET()

    server.RequestHandlerClass = _Held
    transport = _transport(server.url, max_concurrency=2)
    delivery = transport.start()
    try:
        transport.send(delivery, ["q0", "q1"])
        transport.send(delivery, ["q2"])
        gate.set()
        report = transport.wait(delivery)
    finally:
        gate.set()
        transport.close()
    assert report.delivered == [0, 1, 2] and len(server.seen) == 3


def test_an_unexpected_error_in_a_send_fails_that_request_without_the_key(server: _Server) -> None:
    class _Broken(threading.Event):
        def is_set(self) -> bool:
            if not super().is_set():
                raise RuntimeError(f"boom {KEY}")
            return True

    transport = _transport(server.url)
    delivery = transport.start()
    delivery.abort = _Broken()
    try:
        transport.send(delivery, ["q0"])
        report = transport.wait(delivery)
    finally:
        transport.close()
    assert (report.delivered, report.failed, report.retried) == ([], [0], 0)
    assert report.first_error == f"RuntimeError: boom {REDACTED}"
    assert threading.Event.is_set(delivery.abort)


def test_a_dropped_connection_names_its_cause_after_the_last_retry(server: _Server) -> None:
    server.script = ["drop", "drop"]
    transport = _transport(server.url, max_retries=1)
    try:
        report, _ = _batch(transport, ["q"])
    finally:
        transport.close()
    error = report.first_error or ""
    assert error.startswith("ProtocolError: ('Connection aborted.'") and error.endswith(" after 1 retries")


def test_requests_of_a_batch_are_in_flight_together(server: _Server) -> None:
    both = threading.Barrier(2, timeout=5)

    class _Together(_Handler):
        def do_GET(self) -> None:
            try:
                both.wait()  # answers only once the two requests are in flight at the same time
            except threading.BrokenBarrierError:
                self.server.script.insert(0, 500)
            super().do_GET()

    server.RequestHandlerClass = _Together
    transport = _transport(server.url, max_concurrency=2, max_retries=0)
    try:
        report, _ = _batch(transport, ["q0", "q1"])
    finally:
        transport.close()
    assert report.delivered == [0, 1] and report.failed == []


def test_an_answer_that_never_comes_times_out() -> None:
    release = threading.Event()

    class _Silent(_Handler):
        def do_GET(self) -> None:
            release.wait(30)

    srv = _Server()
    srv.RequestHandlerClass = _Silent
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    transport = _transport(srv.url, max_retries=0, timeout_seconds=0.2)
    try:
        report = transport.deliver(["q"])
    finally:
        release.set()
        transport.close()
        srv.shutdown()
        srv.server_close()
        thread.join()
    assert report.failed == [0]
    assert (report.first_error or "").startswith("ReadTimeoutError: ")


def test_a_halt_while_waiting_cuts_the_retry_short_and_later_batches_start_nothing(server: _Server) -> None:
    """``wait(halt_when=...)`` polls while requests are out: a request waiting (seconds) to retry a 503
    is not retried once the run is asked to stop, and a batch started after the halt sends nothing."""
    server.script = [503]  # then 200: a retry would be delivered
    transport = _transport(server.url, max_retries=3, backoff_base_seconds=30.0, seed=0)  # waits ~25 s
    delivery = transport.start()
    try:
        transport.send(delivery, ["q"])
        report = transport.wait(delivery, halt_when=lambda: len(server.seen) == 1)
        later = transport.start()
        transport.send(later, ["q2"])
        later_report = transport.wait(later)
    finally:
        transport.close()
    assert transport.halted
    assert (report.delivered, report.failed, report.retried) == ([], [0], 0)
    assert report.first_error == "not retried: the run was interrupted"
    assert (later_report.delivered, later_report.failed) == ([], [0])
    assert later_report.first_error == "not started: the run was interrupted"
    assert len(server.seen) == 1


def test_a_halt_keeps_the_reason_of_a_batch_that_had_failed_already(server: _Server) -> None:
    transport = _transport(server.url)
    failed, live = transport.start(), transport.start()
    failed.abort.set()  # an earlier event of this batch failed for good
    transport.halt()
    try:
        transport.send(failed, ["q0"])
        transport.send(live, ["q1"])
        reports = transport.wait(failed), transport.wait(live)
    finally:
        transport.close()
    assert [r.first_error for r in reports] == [
        "not started: an earlier event failed",
        "not started: the run was interrupted",
    ]
    assert server.seen == []


@pytest.mark.parametrize(
    ("error", "prefix"),
    [
        (OSError(f"proxy refused {KEY} ({quote(KEY, safe='')})"), "OSError: "),
        (Urllib3SSLError(f"certificate for {KEY} ({quote(KEY, safe='')})"), "TLS error: "),
    ],
)
def test_a_library_error_that_quotes_the_key_is_reported_without_it(
    server: _Server, error: Exception, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a connection error says, the key (raw or percent-encoded, not only after ``_k=``) is
    redacted from the batch's error."""
    transport = _transport(server.url, max_retries=0)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(transport._pool, "urlopen", fail)
    try:
        report = transport.deliver(["q"])
    finally:
        transport.close()
    assert report.failed == [0]
    assert report.first_error is not None and report.first_error.startswith(prefix)
    assert KEY not in report.first_error and quote(KEY, safe="") not in report.first_error
    assert report.first_error.count(REDACTED) == 2


def test_a_stop_request_is_noticed_within_a_fraction_of_a_second(server: _Server) -> None:
    """``halt_when`` is polled every 0.1 s: asked on its third poll, the wait ends well within a second,
    although the request waits ~25 s to retry."""
    server.script = [503]
    transport = _transport(server.url, max_retries=3, backoff_base_seconds=30.0, seed=0)
    polls: list[float] = []

    def asked() -> bool:
        polls.append(time.monotonic())
        return len(polls) >= 3

    delivery = transport.start()
    try:
        transport.send(delivery, ["q"])
        report = transport.wait(delivery, halt_when=asked)
        done = time.monotonic()
    finally:
        transport.close()
    assert report.first_error == "not retried: the run was interrupted"
    assert done - polls[0] < 1.0
