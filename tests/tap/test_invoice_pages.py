"""Old-version invoice.paid payloads completed from paid-invoice pages (invoice_pages.py): only the
invoices the pages hold replace single fetches, gaps are skipped, the pages never exceed half the
fetches they replace, and what is missing is left to the fetch by id."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tap_stripe_billing import payload_versions as pv
from tap_stripe_billing.invoice_pages import created_of, read_pages


class PaidList:
    """``GET /v1/invoices?status=paid`` over paid invoices (id → created), newest first, as Stripe pages."""

    def __init__(self, paid: dict[str, int], page: int = 100) -> None:
        self.paid, self.page = paid, page
        self.asked: list[dict[str, Any]] = []

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None:
        assert path == "/v1/invoices"
        p = dict(params)
        self.asked.append(p)
        assert p["status"] == "paid" and p["limit"] == 100
        rows = sorted(
            ((c, i) for i, c in self.paid.items() if p["created[gte]"] <= c <= p["created[lte]"]),
            key=lambda r: (-r[0], r[1]),
        )
        if "starting_after" in p:
            at = [i for _, i in rows].index(p["starting_after"])
            rows = rows[at + 1 :]
        data = [{"id": i, "object": "invoice", "created": c, "status": "paid"} for c, i in rows[: self.page]]
        return {"object": "list", "data": data, "has_more": len(rows) > self.page}


def test_one_page_replaces_a_batch_of_fetches() -> None:
    paid = {f"in_{n}": 1_000 + n for n in range(50)}
    api, counts, run = PaidList(paid), Counter[str](), pv.PayloadVersions()
    wanted = {f"in_{n}": 1_000 + n for n in range(0, 50, 2)}  # 25 wanted among 50 paid
    found = read_pages(api, wanted, counts, run)
    assert set(found) == set(wanted)
    assert all(found[i]["created"] == wanted[i] for i in found)
    assert len(api.asked) == 1 and counts == {"invoices": 1} and run.fetches == {"invoices": 1}
    assert api.asked[0]["created[gte]"] == 1_000 and api.asked[0]["created[lte]"] == 1_048


def test_gaps_are_skipped_and_ties_paged_with_the_cursor() -> None:
    # 10 wanted in two clusters a day apart, 300 other paid invoices in between; 3 pages would be needed
    # to page through the gap: the read restarts at the older cluster instead.
    paid = {f"in_gap{n}": 50_000 + n * 100 for n in range(300)}
    new = {f"in_new{n}": 90_000 for n in range(5)}  # ties: same second
    old = {f"in_old{n}": 10_000 + n for n in range(5)}
    paid.update(new)
    paid.update(old)
    api = PaidList(paid, page=3)  # small pages: the ties span two pages
    found = read_pages(api, {**new, **old}, Counter(), pv.PayloadVersions())
    assert set(found) == set(new) | set(old)
    assert "starting_after" in api.asked[1]  # the ties continue on the next page
    # the gap skipped: a new read starts at the older cluster
    assert any(a["created[lte]"] == 10_004 and "starting_after" not in a for a in api.asked)
    assert len(api.asked) == 4


def test_missing_ones_are_left_to_the_fetch_by_id_and_the_budget_holds() -> None:
    paid = {f"in_{n}": 1_000 + n for n in range(1_000)}
    wanted = {f"in_{n}": 1_000 + n for n in range(0, 1_000, 100)}  # 10 spread over 10 pages
    wanted["in_unpaid"] = 1_500  # not in the paid list (never happens for a paid invoice): fetched by id
    api = PaidList(paid)
    found = read_pages(api, wanted, Counter(), pv.PayloadVersions())
    assert len(api.asked) <= len(wanted) // 2  # never more than half the fetches it replaces
    assert "in_unpaid" not in found
    assert set(found) <= set(wanted)


def test_one_invoice_is_not_worth_a_page() -> None:
    api = PaidList({"in_1": 5})
    assert read_pages(api, {"in_1": 5}, Counter(), pv.PayloadVersions()) == {}
    assert api.asked == []


def test_created_is_date_in_old_payloads() -> None:
    assert created_of({"date": 7}) == 7
    assert created_of({"created": 8, "date": 7}) == 8
    assert created_of({"created": None}) is None
    assert created_of({"created": True}) is None
