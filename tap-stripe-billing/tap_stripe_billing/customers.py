"""Customer emails for one run: expanded customers first, else one ``GET /v1/customers/{id}`` each, cached.

The cache may be shared by the run's streams (``Run.emails``, per account): a customer a change, a
cancellation and a refund of the same hour all name is then fetched once per run, not once per stream.
It lives in memory for the run only: emails are personal data and never go into state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tap_stripe_billing.payload_versions import object_path
from tap_stripe_billing.records import clean_email


class CustomerSource(Protocol):
    """What the cache needs from the Stripe client."""

    def get(
        self, path: str, params: Any = (), *, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...  # pragma: no cover


class CustomerEmails:
    """Customer id → trimmed email (or None), for one run."""

    def __init__(self, api: CustomerSource, shared: dict[str, str | None] | None = None) -> None:
        self._api = api
        self._emails: dict[str, str | None] = {} if shared is None else shared

    def remember(self, customer: object) -> None:
        """Keep the email of an expanded customer object (lists read with ``expand[]=data.customer``)."""
        if isinstance(customer, Mapping) and customer.get("id"):
            self._emails[str(customer["id"])] = clean_email(customer.get("email"))

    def of_invoice(self, invoice: Mapping[str, Any]) -> str | None:
        """An invoice's email: its own ``customer_email`` (trimmed), else its customer's."""
        return clean_email(invoice.get("customer_email")) or self.email(invoice.get("customer"))

    def email(self, customer: object) -> str | None:
        """The email of a customer given as an id or an expanded object."""
        if isinstance(customer, Mapping):
            self.remember(customer)
            return clean_email(customer.get("email"))
        if not customer:
            return None
        customer_id = str(customer)
        if customer_id not in self._emails:
            body = self._api.get(object_path("customers", customer_id), missing_ok=True)
            self._emails[customer_id] = clean_email(body.get("email")) if body else None
        return self._emails[customer_id]
