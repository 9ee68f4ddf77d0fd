"""Run the tap in-process and collect what it writes; an in-memory Stripe for stream-logic tests."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tap_stripe_billing.tap import TapStripeBilling

LIVE_KEY = "sk_live_unit_test_key_0123456789"
FAKE_ACCOUNT_ID = "acct_1FakeStripeAccount0"


@dataclass
class RunResult:
    records: list[dict[str, Any]]
    states: list[dict[str, Any]]
    summary: dict[str, Any]
    stderr: str
    by_stream: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    @property
    def stream_state(self) -> dict[str, Any]:
        return (self.state or {}).get("bookmarks", {}).get("subscription_billed", {})


BILLED = ("subscription_billed",)


def run_tap(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    streams: tuple[str, ...] | None = BILLED,
) -> RunResult:
    """One in-process run of the selected streams (default: the billed stream; None: all).

    ``records``/``summary`` are the first selected stream's; ``by_stream``/``summaries`` all of them."""
    tap = TapStripeBilling(config=config, state=state or {})
    selected = tuple(tap.streams) if streams is None else streams
    for name, stream in tap.streams.items():
        stream.metadata.root.selected = name in selected
        stream._mask = None
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        tap.sync_all()
    by_stream: dict[str, list[dict[str, Any]]] = {name: [] for name in selected}
    states = []
    for line in out.getvalue().splitlines():
        message = json.loads(line, parse_float=Decimal)
        if message["type"] == "RECORD":
            by_stream.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            states.append(message["value"])
    summaries = {name: getattr(tap.streams[name], "summary", {}) for name in selected}
    first = selected[0]
    return RunResult(by_stream[first], states, summaries[first], err.getvalue(), by_stream, summaries)


@dataclass
class FakeStripe:
    """Invoices and invoice.paid events in memory; honours created[gte]/[lt], status, newest first."""

    now: int
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)  # (created, visible_at, ev)
    prices: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    accounts_read: list[str] = field(default_factory=list)

    def add_invoice(
        self, inv: dict[str, Any], *, event_created: int | None = None, visible_at: int | None = None
    ) -> None:
        self.invoices[inv["id"]] = inv
        if event_created is not None:
            ev = {
                "id": f"evt_{inv['id']}",
                "type": "invoice.paid",
                "created": event_created,
                "data": {"object": inv},
            }
            self.events.append((event_created, visible_at or event_created, ev))

    def request_summary(self) -> dict[str, int]:
        return dict(self.requests)

    def for_account(self, account_id: str) -> FakeStripe:
        """One account's view: the in-memory Stripe holds one account, whatever ``Stripe-Account`` says."""
        self.accounts_read.append(account_id)
        return self

    def clock(self) -> int:
        """Stripe's clock, as the real client reads it from the Date header."""
        return self.now

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None:
        self.requests[f"GET {path}"] += 1
        if path.startswith("/v1/customers/"):
            return self.customers.get(path.rsplit("/", 1)[1])
        if path.startswith("/v1/prices/"):
            return None
        if path == "/v1/invoices":
            q = dict(params)
            items = self._invoices(q)
            return {
                "data": items[: int(q.get("limit", 100))],
                "has_more": len(items) > int(q.get("limit", 100)),
            }
        if path == "/v1/account":  # the key's own account, asked once and kept in state
            return {"id": FAKE_ACCOUNT_ID, "object": "account"}
        raise AssertionError(path)

    def _invoices(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        out = [
            inv
            for inv in self.invoices.values()
            if inv["status"] == q.get("status", inv["status"])
            and inv["created"] >= int(q.get("created[gte]", -(10**12)))
            and inv["created"] < int(q.get("created[lt]", 10**12))
            and inv["created"] <= self.now
        ]
        return sorted(out, key=lambda i: (-i["created"], i["id"]))

    def list_pages(self, path: str, params: Any = ()) -> Iterator[list[dict[str, Any]]]:
        q = dict(params)
        if path == "/v1/invoices":
            items = self._invoices(q)
        elif path == "/v1/events":
            items = [
                ev
                for created, visible, ev in sorted(self.events, key=lambda e: -e[0])
                if visible <= self.now
                and created >= int(q.get("created[gte]", -(10**12)))
                and created < int(q.get("created[lt]", 10**12))
            ]
        elif path == "/v1/prices":
            items = list(self.prices)
        else:
            raise AssertionError(path)
        for i in range(0, max(len(items), 1), 100):
            self.requests[f"GET {path}"] += 1
            if items[i : i + 100]:
                yield items[i : i + 100]

    def list_all(self, path: str, params: Any = ()) -> Iterator[dict[str, Any]]:
        for page in self.list_pages(path, params):
            yield from page
