"""HTTP delivery of event requests: a keep-alive urllib3 pool, many requests in flight, retries.

Up to ``max_concurrency`` requests run at once (that many worker threads over one
``HTTP(S)ConnectionPool`` with as many kept-alive connections). A :class:`Delivery` is one batch: the
sink adds requests to it while it is still reading records (so sending overlaps reading), then waits for
all of them. Timeouts, connection errors, 429 and 5xx are retried up to ``max_retries`` times with
exponential backoff and full jitter; any other non-2xx answer is fatal (KISSmetrics answers 200 to
everything, so it means the tracking URL is wrong). Once one request of a batch has failed for good,
the batch's requests not yet sent are not started; once the transport is halted (a signal), no request
of any batch is started or retried. Error texts never contain the URL (the key is in it).
"""

from __future__ import annotations

import queue
import random
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError

from target_kissmetrics.redact import redact
from target_kissmetrics.routing import split_route

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class DeliveryReport:
    """Outcome of one :meth:`Transport.deliver` call."""

    delivered: list[int] = field(default_factory=list)  # indexes into the queries given
    failed: list[int] = field(default_factory=list)  # failed for good, or never started after a failure
    retried: int = 0
    first_error: str | None = None


@dataclass
class _Outcome:
    ok: bool
    retries: int
    error: str | None = None


class Delivery:
    """One batch of requests in flight: requests may be added until :meth:`Transport.wait`.

    Once one request has failed for good, or the transport was halted, the batch's requests not yet
    started are not started.
    """

    def __init__(self) -> None:
        self.abort = threading.Event()
        self.abort_reason = "an earlier event failed"
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._outcomes: list[_Outcome | None] = []
        self._pending = 0

    def _reserve(self, count: int) -> int:
        with self._lock:
            first = len(self._outcomes)
            self._outcomes.extend([None] * count)
            self._pending += count
            return first

    def _finish(self, index: int, outcome: _Outcome) -> None:
        with self._lock:
            self._outcomes[index] = outcome
            self._pending -= 1
            if not self._pending:
                self._idle.notify_all()

    def _wait_idle(self, timeout: float | None) -> bool:
        """Whether every request of the batch has an outcome (waiting up to ``timeout`` seconds)."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def _report(self) -> DeliveryReport:
        with self._lock:
            while self._pending:
                self._idle.wait()
            outcomes = list(self._outcomes)
        report = DeliveryReport()
        for index, outcome in enumerate(outcomes):
            assert outcome is not None
            report.retried += outcome.retries
            if outcome.ok:
                report.delivered.append(index)
            else:
                report.failed.append(index)
                if report.first_error is None or report.first_error.startswith("not "):
                    report.first_error = outcome.error
        return report


_STOP = None


class Transport:
    def __init__(
        self,
        tracking_url: str,
        api_key: str,
        *,
        max_concurrency: int = 16,
        timeout_seconds: float = 15.0,
        max_retries: int = 6,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 30.0,
        user_agent: str = "target-kissmetrics",
        seed: int | None = None,
        account_keys: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(tracking_url)
        path = parts.path.rstrip("/") + "/e?_k="
        self._prefix = path + quote(api_key, safe="") + "&"
        # routing.py: a stored request "<account>\n<query>" goes under that account's key
        keys = dict(account_keys or {})
        self._prefixes = {account: path + quote(key, safe="") + "&" for account, key in keys.items()}
        self._secrets = [api_key, *keys.values()]
        self.max_retries = max_retries
        self.backoff_base = backoff_base_seconds
        self.backoff_cap = backoff_cap_seconds
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self.max_concurrency = max(1, max_concurrency)
        self._pool = urllib3.connection_from_url(
            f"{parts.scheme}://{parts.netloc}",
            maxsize=self.max_concurrency,
            block=True,
            timeout=urllib3.Timeout(connect=min(timeout_seconds, 10.0), read=timeout_seconds),
            retries=False,
            headers={"User-Agent": user_agent, "Accept": "*/*"},
        )
        # Persistent workers fed by one queue: no Future per request (the target is CPU-bound at zero
        # latency, and every microsecond per request is one less for reading records).
        self._queue: queue.SimpleQueue[tuple[Delivery, int, str] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._workers_lock = threading.Lock()
        self._live: weakref.WeakSet[Delivery] = weakref.WeakSet()
        self.halted = False

    def _start_workers(self) -> None:
        with self._workers_lock:  # sinks drain in parallel: start the workers once
            if self._workers:
                return
            for number in range(self.max_concurrency):
                worker = threading.Thread(target=self._work, name=f"kissmetrics-send-{number}", daemon=True)
                worker.start()
                self._workers.append(worker)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            delivery, index, query = item
            try:
                outcome = self._send(query, delivery)
            except BaseException as exc:  # never lose a slot: the batch would wait forever
                delivery.abort.set()
                outcome = _Outcome(False, 0, f"{type(exc).__name__}: {redact(str(exc), self._secrets)}")
            delivery._finish(index, outcome)

    def _backoff(self, attempt: int) -> float:
        with self._random_lock:
            return self._random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))

    def _send(self, query: str, delivery: Delivery) -> _Outcome:
        account, query = split_route(query)
        prefix = self._prefixes.get(account) if account else self._prefix
        if prefix is None:  # journaled by an earlier run for an account no longer in account_api_keys
            delivery.abort.set()
            return _Outcome(False, 0, f"no KISSmetrics key for Stripe account {account} (account_api_keys)")
        url = prefix + query
        abort = delivery.abort
        retries = 0
        attempt = 0
        while True:
            if abort.is_set():
                return _Outcome(False, retries, f"not started: {delivery.abort_reason}")
            try:
                response = self._pool.urlopen(
                    "GET", url, retries=False, redirect=False, preload_content=True, assert_same_host=False
                )
                status = response.status
                if 200 <= status < 300:
                    return _Outcome(True, retries)
                error = f"HTTP {status}"
                if status not in RETRYABLE_STATUS:
                    abort.set()
                    return _Outcome(False, retries, f"{error} (not retryable)")
            except Urllib3SSLError as exc:
                abort.set()
                return _Outcome(False, retries, f"TLS error: {redact(str(exc), self._secrets)}")
            except (Urllib3Error, OSError) as exc:
                error = f"{type(exc).__name__}: {redact(str(exc), self._secrets)}"
            if attempt >= self.max_retries:
                abort.set()
                return _Outcome(False, retries, f"{error} after {retries} retries")
            if abort.wait(self._backoff(attempt)):
                return _Outcome(False, retries, f"not retried: {delivery.abort_reason}")
            attempt += 1
            retries += 1

    def start(self) -> Delivery:
        """A new batch; add requests with :meth:`send`, then :meth:`wait` for all of them."""
        delivery = Delivery()
        with self._workers_lock:
            self._live.add(delivery)
            if self.halted:
                self._halt(delivery)
        return delivery

    @staticmethod
    def _halt(delivery: Delivery) -> None:
        if not delivery.abort.is_set():
            delivery.abort_reason = "the run was interrupted"
            delivery.abort.set()

    def halt(self) -> None:
        """Start nothing more, retry nothing more; requests already on the wire finish (or time out).

        Not for a signal handler (it takes locks): call it from the thread that noticed the signal.
        """
        with self._workers_lock:
            self.halted = True
            for delivery in list(self._live):
                self._halt(delivery)

    def send(self, delivery: Delivery, queries: Sequence[str]) -> None:
        """Queue requests (built by :mod:`target_kissmetrics.events`) of a batch; they start at once."""
        if not queries:
            return
        self._start_workers()
        first = delivery._reserve(len(queries))
        put = self._queue.put
        for offset, query in enumerate(queries):
            put((delivery, first + offset, query))

    def wait(self, delivery: Delivery, halt_when: Callable[[], bool] | None = None) -> DeliveryReport:
        """Wait for every request of a batch; what was delivered (indexes in the order sent).

        ``halt_when`` is polled while waiting (every 0.1 s): once it is true, :meth:`halt` is called, so
        the wait ends within one request's timeout.
        """
        if halt_when is not None:
            while not delivery._wait_idle(0.1):
                if halt_when() and not self.halted:
                    self.halt()
        return delivery._report()

    def deliver(self, queries: Sequence[str]) -> DeliveryReport:
        """Send every query (built by :mod:`target_kissmetrics.events`); return what was delivered."""
        delivery = self.start()
        self.send(delivery, queries)
        return self.wait(delivery)

    def close(self) -> None:
        with self._workers_lock:
            workers, self._workers = self._workers, []
        for _ in workers:
            self._queue.put(_STOP)
        for worker in workers:
            worker.join()
        self._pool.close()
