"""The per-account exactness check of the shard benchmark (`local_pipeline/connect.py`), on canned answers.

The regression: a customer who adds an email after the first run. The first run read its paid invoice with
no email (not sent: SPEC §3), and Stripe's ground truth at the hourly clock has the email; the check must
not then require that invoice (benchmarks/bench_shards.py found 199/200 accounts exact for this alone).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_pipeline.connect import BILLED, exactness

ACCOUNT = "acct_1Regression0001"


class FakeStandIn:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def control(self, path: str) -> Any:
        if path.startswith("truth/billed"):
            assert parse_qs(urlsplit(path).query)["account"] == [ACCOUNT]
            return self.answers["truth"]
        return self.answers[path]


class FakeLocal:
    """What `exactness` reads of a LocalPipeline: the Stripe clock and truth, KISSmetrics' requests."""

    def __init__(self, now: int, truth: list[dict[str, Any]], sent: list[str]) -> None:
        self.stripe = FakeStandIn({"clock": {"now": now}, "truth": truth})
        requests = [{"params": [["_n", BILLED], ["Stripe Invoice ID", i]]} for i in sent]
        self.kissmetrics = FakeStandIn({"requests": requests})
        self.sent = sent

    def received(self) -> list[dict[str, Any]]:
        return [{"event": BILLED, "properties": {"Stripe Invoice ID": i}} for i in self.sent]


def truth(**emails: str | None) -> list[dict[str, Any]]:
    return [{"invoice_id": invoice, "customer_email": email} for invoice, email in emails.items()]


NOW = 1_793_491_200
FIRST = FakeLocal(NOW, truth(in_a="a@example.com", in_b=None), ["in_a"])


def check(local: FakeLocal, earlier: Any = None) -> tuple[int, int, int]:
    found = exactness(local, [ACCOUNT], earlier)  # type: ignore[arg-type]
    return found.exact_accounts, found.expected_events, found.unknown


def test_an_email_added_after_the_run_that_read_the_invoice_is_not_required() -> None:
    first = exactness(FIRST, [ACCOUNT])  # type: ignore[arg-type]
    assert (first.exact_accounts, first.expected_events) == (1, 1)
    hourly = truth(in_a="a@example.com", in_b="b@example.com", in_c="c@example.com")
    assert check(FakeLocal(NOW + 3600, hourly, ["in_a", "in_c"]), first) == (1, 2, 0)
    # A later read that sends it after all (an overlap) is no error either.
    assert check(FakeLocal(NOW + 3600, hourly, ["in_a", "in_b", "in_c"]), first) == (1, 2, 0)


def test_the_check_still_finds_a_missing_or_unknown_event() -> None:
    first = exactness(FIRST, [ACCOUNT])  # type: ignore[arg-type]
    hourly = truth(in_a="a@example.com", in_b="b@example.com", in_c="c@example.com")
    assert check(FakeLocal(NOW + 3600, hourly, ["in_a"]), first) == (0, 2, 0)  # in_c lost
    assert check(FakeLocal(NOW + 3600, hourly, ["in_c"]), first) == (0, 2, 0)  # in_a lost
    assert check(FakeLocal(NOW + 3600, hourly, ["in_a", "in_c", "in_x"]), first)[2] == 1
    # With no earlier run, an invoice with an email is required.
    assert check(FakeLocal(NOW + 3600, hourly, ["in_a", "in_c"])) == (0, 3, 0)
