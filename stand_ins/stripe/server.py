"""The Stripe stand-in server: auth, faults, latency, stats around the ``/v1/`` API and the controls."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import Counter
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from ..common import StandInHandler, StandInServer
from . import api, strict_params
from .account import Account
from .connect import Platform, render_account
from .control import CONTROLS
from .errors import StripeError
from .keys import ACCOUNT_ID, KeyInfo, authenticate, authorize, default_keys, key_from_header
from .limits import RATE_LIMITED_MESSAGE, EndpointLimits, rate_limited
from .versions import CURRENT_API_VERSION

_FAULTS: dict[str, StripeError] = {
    "429": rate_limited(),
    "429_retry": StripeError(
        429, RATE_LIMITED_MESSAGE, code="rate_limit", headers={"Stripe-Should-Retry": "true"}
    ),
    "500": StripeError(500, "An unknown error occurred", type_="api_error"),
}


class _Handler(StandInHandler):
    server: StripeStandIn

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path, pairs = self.split_path()
        if path.startswith("/_standin/"):
            self._control(method, path, pairs)
        elif path.startswith("/v1/"):
            self._api(method, path, pairs)
        else:
            self.read_body()
            err = api.unrecognized(method, path)
            self.send_json(err.status, err.body(), self._headers())

    def _headers(self, extra: dict[str, str] | None = None, version: str | None = None) -> dict[str, str]:
        headers = {
            "Request-Id": self.server.next_request_id(),
            "Stripe-Version": version or CURRENT_API_VERSION,
            # Stripe's clock, as real Stripe sends it: here the simulated clock, so a client that takes
            # "now" from the server (as the tap does) lives in the stand-in's time.
            "Date": formatdate(self.server.account.now, usegmt=True),
        }
        headers.update(extra or {})
        return headers

    def _api(self, method: str, path: str, pairs: list[tuple[str, str]]) -> None:
        server = self.server
        body = self.read_body()
        if body and method == "POST":
            pairs = pairs + parse_qsl(body.decode(), keep_blank_values=True)
        found = api.match(method, path)
        endpoint = f"{method} {found[0].template if found else path}"
        server.count(endpoint)
        fault = server.faults.next(path)
        if fault == "reset":
            self.reset_connection()
            return
        if fault == "slow":
            time.sleep(server.slow_seconds)
        self.sleep_latency()
        try:
            if fault in _FAULTS:
                raise _FAULTS[fault]
            if not server.limits.admit(endpoint):
                raise rate_limited()
            key = key_from_header(self.headers.get("Authorization"))
            info = authenticate(server.keys, key)
            if found is None:
                raise api.unrecognized(method, path)
            route, args = found
            authorize(info, key, route.permission)
            connected = (self.headers.get("Stripe-Account") or "").strip()
            if connected == ACCOUNT_ID:  # the key's own account named in the header: as without it
                connected = ""
            server.note_params(route.template, pairs, connected or None)
            strict_params.check(method, route.template, pairs)
            account = server.account
            if connected:  # Stripe Connect: act as the connected account (connect.py)
                server.count_account(connected)
                account = server.platform.account(connected.strip(), key, server.account.now)
            version = api.api_version(account, self.headers.get("Stripe-Version"))
            if route.template == "/v1/accounts" and not connected:
                payload = server.platform.list_page(pairs, server.account.now)
            else:
                payload = api.handle(account, route, args, pairs, info, version)
                if route.template == "/v1/account":
                    payload = server.account_object(connected, payload)
        except StripeError as err:
            self.send_json(err.status, err.body(), self._headers(err.headers))
            return
        self.send_json(200, payload, self._headers(version=version))

    def _control(self, method: str, path: str, pairs: list[tuple[str, str]]) -> None:
        raw = self.read_body()
        control = CONTROLS.get((method, path.rstrip("/")))
        if control is None:
            self.send_json(404, {"error": {"message": f"Unknown control {method} {path}"}})
            return
        try:
            body = json.loads(raw) if raw else {}
            status, payload = control(self.server, body, dict(pairs))
        except (ValueError, KeyError, TypeError) as exc:
            self.send_json(400, {"error": {"message": f"Bad control request: {exc}"}})
            return
        self.send_json(status, payload)


class StripeStandIn(StandInServer):
    """A loopback Stripe API over a generated :class:`Account`."""

    def __init__(
        self, account: Account, port: int = 0, seed: int = 0, endpoint_rate_limit: float | None = None
    ) -> None:
        super().__init__(_Handler, port=port, seed=seed)
        self.account = account
        # Stripe's per-endpoint limit (25/s by default on Stripe): off unless set here, by
        # ``--endpoint-rate-limit`` or ``POST /_standin/rate_limits``, so tests that do not model it run
        # at full speed.
        self.limits = EndpointLimits(endpoint_rate_limit)
        self.slow_seconds = 2.0
        self.keys: dict[str, KeyInfo] = default_keys()
        self._stats: Counter[str] = Counter()
        self.platform = Platform()  # connected accounts (none unless ``connect`` adds some)
        self.account_stats: Counter[str] = Counter()  # requests by Stripe-Account
        self._stats_lock = threading.Lock()
        self._request_ids = itertools.count(1)
        # (METHOD route template, parameter name) of every authorised request, list indexes as ``[]``
        self.params_seen: set[tuple[str, str]] = set()
        # Requests of the invoice list by connected account (None: the platform's own) and created window,
        # ``(account, created[gte], created[lt])`` (pages included): which time slices a backfill read.
        self.invoice_windows_by_account: Counter[tuple[str | None, str | None, str | None]] = Counter()
        strict_params.warm()

    def __enter__(self) -> StripeStandIn:
        self.start()
        return self

    def add_key(self, key: str, livemode: bool, permissions: set[str] | None = None) -> None:
        """Accept ``key`` for ``livemode`` objects; ``permissions`` None means every permission."""
        self.keys[key] = KeyInfo(livemode, None if permissions is None else frozenset(permissions))

    def connect(self, count: int, invoices: int | None = None) -> list[str]:
        """Give the platform ``count`` connected accounts, generated on first use like the platform's
        account (``invoices`` each, default the platform's); their ids."""
        return self.platform.connect(self.account.config, count, invoices)

    def count_account(self, account_id: str) -> None:
        with self._stats_lock:
            self.account_stats[account_id] += 1

    def account_object(self, connected: str | None, payload: dict[str, Any]) -> dict[str, Any]:
        """``GET /v1/account``: the connected account's object, or the platform's own."""
        if connected:
            return render_account(self.platform.accounts[connected.strip()])
        return {**payload, "id": ACCOUNT_ID}

    def count(self, route: str) -> None:
        with self._stats_lock:
            self._stats[route] += 1

    def note_params(self, template: str, pairs: list[tuple[str, str]], connected: str | None = None) -> None:
        seen = {(template, re.sub(r"\[\d+\]", "[]", key)) for key, _ in pairs}
        with self._stats_lock:
            self.params_seen |= seen
            if template == "/v1/invoices":
                query = dict(pairs)
                self.invoice_windows_by_account[
                    (connected, query.get("created[gte]"), query.get("created[lt]"))
                ] += 1

    @property
    def invoice_windows(self) -> Counter[tuple[str | None, str | None]]:
        """Requests of the invoice list by created window ``(created[gte], created[lt])``, all accounts."""
        with self._stats_lock:
            found: Counter[tuple[str | None, str | None]] = Counter()
            for (_, gte, lt), count in self.invoice_windows_by_account.items():
                found[(gte, lt)] += count
            return found

    def stats(self) -> dict[str, int]:
        """Request counts by ``METHOD /v1/route-template`` (faulted requests included)."""
        with self._stats_lock:
            return dict(self._stats)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()
            self.account_stats.clear()
            self.invoice_windows_by_account.clear()

    def next_request_id(self) -> str:
        return f"req_{next(self._request_ids):014d}"

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "now": self.account.now,
            "faults": self.faults.describe(),
            "rate_limits": self.limits.describe(),
        }
