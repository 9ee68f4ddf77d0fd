"""Event payloads in any API version: when a payload is complete, and when one pinned fetch completes it.

Stripe renders an event's ``data.object`` in the API version that was the account's default when the
event was created (the event's ``api_version``), whatever version the request pins. An account opened
years ago that never upgraded gets payloads shaped like Stripe's example objects of its time
(``stripe-fixtures/history/``): a 2017-08-15 invoice has no ``status``, no ``status_transitions``, no
``amount_paid``, no ``customer_email``, ``date`` instead of ``created``, and plans with a ``name``; a
2018-11-08 one has ``amount_paid`` but no ``paid_at``; refunds before 2019 carry no ``reason`` nor
``payment_intent``; subscriptions before 2023 no ``cancellation_details``.

The rule: a payload that lacks something its record needs, or whose meaning is ambiguous in its version,
is never guessed at and never dropped for its shape: the object is fetched once by id (``GET
/v1/{kind}/{id}``, in the pinned version the client sends) and the record is built from that. The
decision reads which keys the payload has, not its version string, so a version not seen here is
handled the same way. Fetches are counted per run, and the run logs once which versions the account's
events carry and how many requests upgrading its default version would save.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from stripe._api_version import _ApiVersion

PINNED_API_VERSION = _ApiVersion.CURRENT  # what stripe-python 16.1.0 sends as Stripe-Version
LOGGER = logging.getLogger("tap_stripe_billing")

GONE = "object_gone"  # the object a payload names can no longer be fetched (a filter reason)


class Getter(Protocol):
    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...  # pragma: no cover


def object_path(resource: str, object_id: str, suffix: str = "") -> str:
    """``/v1/{resource}/{id}{suffix}``, the id URL-quoted (legacy plan ids may hold ``/``, spaces, ``#``)."""
    return f"/v1/{resource}/{quote(str(object_id), safe='')}{suffix}"


_INVOICE_KEYS = ("status", "amount_paid", "customer_email", "billing_reason")


def invoice_complete(invoice: Mapping[str, Any]) -> bool:
    """True when an invoice payload has everything ``subscription_billed`` reads, unambiguously.

    It needs ``status``, ``status_transitions.paid_at``, ``amount_paid``, the ``customer_email``
    snapshot and ``billing_reason`` (2019-03-14 on); a subscription parent (``parent``, or the
    pre-basil ``subscription``); and lines naming a price (``pricing`` or ``price``, 2020-08-27 on):
    a line with only a legacy ``plan`` names it by ``name``, not by the price's nickname or product.
    """
    transitions = invoice.get("status_transitions")
    if not isinstance(transitions, Mapping) or "paid_at" not in transitions:
        return False
    if any(key not in invoice for key in _INVOICE_KEYS):
        return False
    if "parent" not in invoice and "subscription" not in invoice:
        return False
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else None
    if not isinstance(data, list):
        return False
    return all(isinstance(line, Mapping) and ("pricing" in line or "price" in line) for line in data)


def refund_complete(refund: Mapping[str, Any]) -> bool:
    """A refund payload names its ``reason`` and its ``payment_intent`` (null for a Charges-API payment)."""
    return "reason" in refund and "payment_intent" in refund


def cancellation_complete(subscription: Mapping[str, Any]) -> bool:
    """A canceled subscription payload carries ``cancellation_details`` (the reason the record needs)."""
    return "cancellation_details" in subscription


def subscription_currency(subscription: Mapping[str, Any], item_currencies: list[str | None]) -> str:
    """A subscription's currency; payloads before it had one (2017-08-15, 2020-08-27) take their items'
    prices' currency, which Stripe requires to be the subscription's for every item."""
    currency = subscription.get("currency")
    if currency:
        return str(currency)
    found = {c for c in item_currencies if c}
    return found.pop() if len(found) == 1 else ""


class PayloadVersions:
    """For one run, across streams: the API versions events carried, and the fetches that completed
    payloads (by object kind)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.versions: Counter[str] = Counter()
        self.fetches: Counter[str] = Counter()

    def saw(self, event: Mapping[str, Any]) -> None:
        version = event.get("api_version")
        with self._lock:
            self.versions[str(version) if version else "unknown"] += 1

    def fetched(self, kind: str) -> None:
        with self._lock:
            self.fetches[kind] += 1

    def log_line(self) -> str | None:
        """One line: the versions the account's events carry, and what upgrading would save."""
        if not self.versions:
            return None
        seen = ", ".join(f"{v} ({n} events)" for v, n in sorted(self.versions.items()))
        total = sum(self.fetches.values())
        if total == 0:
            saving = "no payload needed a fetch: upgrading would save no requests"
        else:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.fetches.items()))
            saving = (
                f"{total} requests fetched payloads that lacked fields, in {PINNED_API_VERSION} ({kinds}):"
                f" upgrading the account's default API version to {PINNED_API_VERSION} in Stripe's"
                f" Dashboard would avoid these {total} requests a run like this one"
            )
        return f"Stripe events of this account carry API version {seen}; {saving}"


def fetch(api: Getter, resource: str, object_id: str, counts: Counter[str], run: PayloadVersions) -> Any:
    """The object in the pinned version (one ``GET /v1/{resource}/{id}``), counted; None when gone."""
    counts[resource] += 1
    run.fetched(resource)
    return api.get(object_path(resource, object_id), missing_ok=True)


def tracker(tap: Any) -> PayloadVersions:
    """The run's tracker, shared by the tap's streams."""
    found = getattr(tap, "payload_versions", None)
    if not isinstance(found, PayloadVersions):
        found = PayloadVersions()
        tap.payload_versions = found
    return found


def log_run(tap: Any) -> None:
    """Log the run's one line about API versions (nothing when no event was read)."""
    line = tracker(tap).log_line()
    if line is not None:
        LOGGER.info(line)
