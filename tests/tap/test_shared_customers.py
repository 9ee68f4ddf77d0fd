"""One run's customer emails are shared by its streams (Run.emails, per account): a customer named by a
change, a cancellation and a refund of the same run is fetched once; other accounts keep their own."""

from __future__ import annotations

from typing import Any

from tap_stripe_billing.customers import CustomerEmails


class Customers:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None:
        self.paths.append(path)
        customer_id = path.rsplit("/", 1)[1]
        return None if customer_id == "cus_gone" else {"id": customer_id, "email": f" {customer_id}@x.test "}


def test_streams_sharing_the_run_cache_fetch_each_customer_once() -> None:
    api, emails_by_account = Customers(), dict[str | None, dict[str, str | None]]()
    changed = CustomerEmails(api, emails_by_account.setdefault(None, {}))
    refunded = CustomerEmails(api, emails_by_account.setdefault(None, {}))
    assert changed.email("cus_1") == "cus_1@x.test"
    assert refunded.email("cus_1") == "cus_1@x.test"
    assert refunded.email("cus_gone") is None and changed.email("cus_gone") is None
    assert api.paths == ["/v1/customers/cus_1", "/v1/customers/cus_gone"]
    other = CustomerEmails(api, emails_by_account.setdefault("acct_2", {}))
    assert other.email("cus_1") == "cus_1@x.test"  # another account's customer: its own fetch
    assert api.paths[-1] == "/v1/customers/cus_1" and len(api.paths) == 3


def test_without_a_shared_cache_each_stream_fetches() -> None:
    api = Customers()
    assert CustomerEmails(api).email("cus_1") == CustomerEmails(api).email("cus_1")
    assert len(api.paths) == 2
