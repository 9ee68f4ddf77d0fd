"""HTTP delivery of event requests: a keep-alive urllib3 pool, many requests in flight, retries.

Up to ``max_concurrency`` requests run at once (threads over one ``HTTP(S)ConnectionPool`` with as many
kept-alive connections). Timeouts, connection errors, 429 and 5xx are retried up to ``max_retries``
times with exponential backoff and full jitter; any other non-2xx answer is fatal (KISSmetrics answers
200 to everything, so it means the tracking URL is wrong). Once one request has failed for good, the
ones not yet sent are not started. Error texts never contain the URL (the key is in it).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError

from target_kissmetrics.redact import redact

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
    ) -> None:
        parts = urlsplit(tracking_url)
        self._prefix = parts.path.rstrip("/") + "/e?_k=" + quote(api_key, safe="") + "&"
        self._secret = api_key
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
        self._executor = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="kissmetrics-send")

    def _backoff(self, attempt: int) -> float:
        with self._random_lock:
            return self._random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt)))

    def _send(self, query: str, abort: threading.Event) -> _Outcome:
        url = self._prefix + query
        retries = 0
        attempt = 0
        while True:
            if abort.is_set():
                return _Outcome(False, retries, "not started: an earlier event failed")
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
                return _Outcome(False, retries, f"TLS error: {redact(str(exc), [self._secret])}")
            except (Urllib3Error, OSError) as exc:
                error = f"{type(exc).__name__}: {redact(str(exc), [self._secret])}"
            if attempt >= self.max_retries:
                abort.set()
                return _Outcome(False, retries, f"{error} after {retries} retries")
            if abort.wait(self._backoff(attempt)):
                return _Outcome(False, retries, "not retried: an earlier event failed")
            attempt += 1
            retries += 1

    def deliver(self, queries: Sequence[str]) -> DeliveryReport:
        """Send every query (built by :mod:`target_kissmetrics.events`); return what was delivered."""
        report = DeliveryReport()
        if not queries:
            return report
        abort = threading.Event()
        outcomes = self._executor.map(lambda q: self._send(q, abort), queries)
        for index, outcome in enumerate(outcomes):
            report.retried += outcome.retries
            if outcome.ok:
                report.delivered.append(index)
            else:
                report.failed.append(index)
                if report.first_error is None or report.first_error.startswith("not "):
                    report.first_error = outcome.error
        return report

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._pool.close()
