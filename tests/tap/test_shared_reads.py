"""One ``/v1/events`` read per run for every stream (events_feed.py) and prices remembered across runs in
state (price_memory.py): what each part decides, then whole hourly runs against the Stripe stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tap_stripe_billing import price_memory
from tap_stripe_billing.events_feed import PRICE_CHANGE_TYPES, EventsFeed, open_feed
from tap_stripe_billing.prices import WALK_AFTER_MISSES, PriceCache
from tap_stripe_billing.records import PriceInfo

from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, generate_account
from tests.tap.harness import run_tap

DAY = 86_400


class Pages:
    """A Stripe client stand-in for the feed: pages of events, newest first; records the requests."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.asked: list[list[tuple[str, Any]]] = []
        self.served = 0

    def list_pages(self, path: str, params: Any = ()) -> Iterator[list[dict[str, Any]]]:
        assert path == "/v1/events"
        self.asked.append(list(params))
        for page in self.pages:
            self.served += 1
            yield page


def event(type_: str, created: int, object_id: str = "x") -> dict[str, Any]:
    return {
        "id": f"evt_{type_}_{created}",
        "type": type_,
        "created": created,
        "data": {"object": {"id": object_id}},
    }


def test_the_feed_asks_once_with_every_type_and_hands_each_stream_its_own_window() -> None:
    pages = Pages(
        [
            [
                event("invoice.paid", 5000),
                event("refund.created", 4800),
                event("price.updated", 4700, "price_a"),
            ],
            [event("invoice.paid", 4000), event("customer.subscription.updated", 3000)],
        ]
    )
    feed = EventsFeed(pages, ["invoice.paid", "refund.created", "customer.subscription.updated"], 2000)  # type: ignore[arg-type]
    assert pages.served == 1  # the first page at once (it gives the run's clock); the rest on first use
    asked = pages.asked[0]
    assert sorted(v for k, v in asked if k == "types[]") == sorted(
        ["invoice.paid", "refund.created", "customer.subscription.updated"]
    )
    assert ("created[gte]", 2000) in asked and not any(k == "created[lt]" for k, _ in asked)
    paid = [e["created"] for e in feed.events(["invoice.paid"], 3500, 4900)]
    assert paid == [4000]  # 5000 is at or after this stream's U; nothing of another type
    assert [e["created"] for e in feed.events(["customer.subscription.updated"], 2000, 9999)] == [3000]
    assert [e["data"]["object"]["id"] for e in feed.price_changes()] == ["price_a"]
    assert len(pages.asked) == 1 and pages.served == 2
    assert feed.covers(["invoice.paid"], 2000) and not feed.covers(["invoice.paid"], 1999)
    assert not feed.covers(["charge.refunded"], 3000)


def _at(iso: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(iso).timestamp())


def test_open_feed_starts_at_the_earliest_fresh_bookmark_and_is_kept_per_account() -> None:
    fresh = (_at("2026-11-01T10:00:00+00:00"), ("invoice.paid",))
    older = (_at("2026-11-01T08:00:00+00:00"), ("refund.created",))
    stale = (_at("2026-09-01T00:00:00+00:00"), ("customer.subscription.deleted",))  # backfills instead
    new = (None, ("customer.subscription.updated",))  # no bookmark: backfills
    pages = Pages([[]])
    feeds: dict[str | None, EventsFeed | None] = {}
    feed = open_feed(pages, feeds, [fresh, older, stale, new], overlap=3600, stale_after_days=29, now=None)  # type: ignore[arg-type]
    assert feed is not None and feed.gte == older[0] - 3600  # 08:00 less the overlap
    assert feed.types == {"invoice.paid", "refund.created", *PRICE_CHANGE_TYPES}
    assert open_feed(pages, feeds, [fresh], overlap=3600, stale_after_days=29, now=None) is feed  # type: ignore[arg-type]
    assert len(pages.asked) == 1
    other = open_feed(pages, feeds, [fresh], overlap=3600, stale_after_days=29, now=None, account="acct_2")  # type: ignore[arg-type]
    assert other is not None and other is not feed and len(pages.asked) == 2  # one read per account
    assert open_feed(pages, {}, [new], overlap=3600, stale_after_days=29, now=None) is None  # type: ignore[arg-type]


def _info(**kw: Any) -> PriceInfo:
    return PriceInfo(price_id=kw.pop("price_id", "price_1"), **kw)


def test_an_entry_keeps_plan_level_and_billing_length_and_amounts_only_when_asked() -> None:
    tiered = _info(
        product_name="Pro",
        interval="month",
        interval_count=3,
        currency="eur",
        unit_amount_decimal=Decimal("12.5"),
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=((10, Decimal("100"), None), (None, Decimal("80"), Decimal("5"))),
        transform_quantity=(5, "up"),
    )
    short = price_memory.encode(tiered, "prod_9", amounts=False)
    assert short == ["Pro", "month", 3, "prod_9"]
    back, product = price_memory.decode("price_1", short)
    assert (back.plan_level(), back.interval, back.interval_count, product) == ("Pro", "month", 3, "prod_9")
    full, _ = price_memory.decode("price_1", price_memory.encode(tiered, "prod_9", amounts=True))
    assert full.tiers == tiered.tiers and full.transform_quantity == (5, "up")
    assert full.unit_amount_decimal == Decimal("12.5") and full.tiers_mode == "graduated"
    named = price_memory.encode(_info(nickname="Gold", product_name="Pro"), "prod_9", amounts=False)
    assert named == ["Gold"]  # the level is not the product's: no product id kept, trailing nulls left out


def test_price_product_and_plan_events_drop_what_they_touch() -> None:
    remembered = {
        "price_a": (_info(price_id="price_a", nickname="A"), None),
        "price_b": (_info(price_id="price_b", nickname="Pro"), "prod_1"),
        "price_c": (_info(price_id="price_c", nickname="C"), None),
        "plan_old": (_info(price_id="plan_old", nickname="Old"), None),
    }
    changes = [
        event("price.updated", 1, "price_a"),
        event("product.updated", 2, "prod_1"),
        event("plan.deleted", 3, "plan_old"),
    ]
    assert price_memory.invalidate(remembered, changes) == 3
    assert list(remembered) == ["price_c"]


def test_remembered_prices_are_used_only_when_the_events_read_covers_the_time_since() -> None:
    state: dict[str, Any] = {}
    price_memory.save(state, {"price_a": ["A", "month", 1]}, at=10_000)
    assert set(price_memory.load(state, covered_from=9_000)) == {"price_a"}
    assert price_memory.load(state, covered_from=10_001) == {}  # a gap no event read covered
    assert price_memory.load(state, covered_from=None) == {}
    many = {f"price_{i}": ["L", "month", 1] for i in range(price_memory.MAX_ENTRIES + 5)}
    price_memory.save(state, many, at=1)
    kept = state[price_memory.PRICES_KEY]["by_id"]
    assert (
        len(kept) == price_memory.MAX_ENTRIES and "price_0" not in kept and f"price_{len(many) - 1}" in kept
    )


class Prices:
    """A Stripe client stand-in for the price cache: counts single fetches and walks."""

    def __init__(self) -> None:
        self.gets: list[str] = []
        self.walks = 0

    def get(self, path: str, params: Any = (), *, missing_ok: bool = False) -> dict[str, Any] | None:
        self.gets.append(path)
        price_id = path.rsplit("/", 1)[-1]
        return {
            "id": price_id,
            "nickname": f"N-{price_id}",
            "recurring": {"interval": "month"},
            "product": "prod_x",
        }

    def list_all(self, path: str, params: Any = ()) -> Any:
        self.walks += 1
        return iter([{"id": "price_w", "nickname": "W", "product": {"id": "prod_w", "name": "Walked"}}])


def test_with_remembered_prices_a_miss_is_one_fetch_and_many_misses_one_walk() -> None:
    api = Prices()
    cache = PriceCache(api, remembered={"price_r": (_info(price_id="price_r", nickname="R"), None)})
    info = cache.lookup("price_r")
    assert info is not None and info.plan_level() == "R" and api.gets == [] and api.walks == 0
    for i in range(WALK_AFTER_MISSES):
        assert cache.lookup(f"price_m{i}") is not None
    assert len(api.gets) == WALK_AFTER_MISSES and api.walks == 0
    cache.lookup("price_w")
    assert api.walks == 1 and len(api.gets) == WALK_AFTER_MISSES
    kept = cache.remember(amounts=False)
    assert list(kept)[-1] == "price_w" and "price_r" in kept  # most recently used last


def test_a_borrowed_plan_level_completes_an_embedded_price_without_a_request() -> None:
    api = Prices()
    borrowed = {"price_e": (_info(price_id="price_e", nickname="Team"), "prod_e")}
    cache = PriceCache(
        api, remembered={"price_r": (_info(price_id="price_r", nickname="R"), None)}, borrowed=borrowed
    )
    embedded = {
        "id": "price_e",
        "unit_amount": 1500,
        "currency": "usd",
        "recurring": {"interval": "year"},
        "product": "prod_e",
    }
    info = cache.lookup("price_e", embedded)
    assert info is not None and api.gets == [] and api.walks == 0
    assert (info.plan_level(), info.unit_amount, info.interval) == ("Team", 1500, "year")
    assert price_memory.encode(info, "prod_e", amounts=True)[:6] == [
        "Team",
        "year",
        None,
        "prod_e",
        "usd",
        1500,
    ]


# -- whole runs against the stand-in ---------------------------------------------------------------------
STREAMS = ("subscription_billed", "subscription_changed", "subscription_canceled", "subscription_refunded")


@pytest.fixture(scope="module")
def hourly() -> Iterator[tuple[StripeStandIn, list[dict[str, Any]]]]:
    """A first run of all four streams, then six hourly runs; each run's summaries and state."""
    account = generate_account(AccountConfig(seed=11, invoices=1500, history_days=60, horizon_days=2))
    with StripeStandIn(account, port=0) as server:
        config = {
            "api_key": LIVE_KEY,
            "api_url": server.url,
            "max_requests_per_second": 1000,
            "max_requests_per_second_per_endpoint": 1000,
        }
        first = run_tap(config, None, streams=None)
        state = first.state
        runs = []
        for _ in range(6):
            account.advance(hours=1)
            before = server.stats()
            result = run_tap(config, state, streams=None)
            after = server.stats()
            state = result.state
            runs.append(
                {
                    "requests": {
                        k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)
                    },
                    "state": state,
                    "records": {s: len(result.by_stream[s]) for s in STREAMS},
                }
            )
        yield server, runs


def test_an_hourly_run_of_all_four_streams_reads_events_once_and_walks_no_prices(
    hourly: tuple[StripeStandIn, list[dict[str, Any]]],
) -> None:
    _, runs = hourly
    for run in runs:
        assert run["requests"].get("GET /v1/events") == 1, run["requests"]
        assert "GET /v1/prices" not in run["requests"], run["requests"]
    assert sum(sum(r["records"].values()) for r in runs) > 0  # the hours did have something to emit


def test_the_state_remembers_prices_without_any_email(
    hourly: tuple[StripeStandIn, list[dict[str, Any]]],
) -> None:
    server, runs = hourly
    state = runs[-1]["state"]
    billed = state["bookmarks"]["subscription_billed"][price_memory.PRICES_KEY]
    assert billed["by_id"] and isinstance(billed["at"], int)
    text = json.dumps(state)
    emails = {c.email for c in server.account.customers if c.email}
    assert emails and not any(email in text for email in emails)
    assert "@" not in json.dumps(billed)


@pytest.mark.slow
def test_with_connected_accounts_each_account_has_its_own_shared_read_and_prices() -> None:
    platform = generate_account(AccountConfig(seed=21, invoices=30, history_days=60, horizon_days=10))
    with StripeStandIn(platform) as server:
        accounts = server.connect(3, invoices=300)
        config = {
            "api_key": LIVE_KEY,
            "api_url": server.url,
            "max_requests_per_second": 1000,
            "max_requests_per_second_per_endpoint": 1000,
            "account_ids": accounts,
        }
        state = run_tap(config, None, streams=None).state
        for _ in range(2):
            server.account.advance(hours=1)
            server.reset_stats()
            state = run_tap(config, state, streams=None).state
            assert server.stats() == {"GET /v1/events": len(accounts)}  # one read per account, no prices
    assert state is not None
    parts = state["bookmarks"]["subscription_billed"]["partitions"]
    assert sorted(p["context"]["account_id"] for p in parts) == sorted(accounts)
    assert all(p[price_memory.PRICES_KEY]["by_id"] for p in parts)
