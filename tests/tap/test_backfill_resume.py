"""A first backfill killed after most of its slices were delivered re-reads only the rest (#12 item 4).

The tap runs as a process against the Stripe stand-in (slowed down, so the run is long enough to kill),
with ``backfill_parallelism`` 3 (the newest page, then 6 created slices). After each completed slice it
writes a STATE holding the checkpoint (``checkpoint.py``; ``checkpoint_interval_seconds: 0`` here, by
default one a minute); in a pipeline the target prints that STATE once every record before it was
delivered, so "delivered" here is every record written before the last STATE line. The process is killed
(SIGKILL) once 5 of the 7 are complete; the rerun, given that STATE, must ask the stand-in for no created
range already complete. What each run wrote up to its last STATE goes through the target (one journal) to
the KISSmetrics stand-in: every payment of the oracle arrives, none twice. Records of a slice cut short
by the kill are emitted again by the rerun; the journal skips those it delivered."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tap_stripe_billing.checkpoint import CHECKPOINT_KEY
from tap_stripe_billing.state import parse_timestamp
from tap_stripe_billing.windows import iso_utc

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.stripe import LIVE_KEY, AccountConfig, StripeStandIn, expected_billed, generate_account
from tests.target.conftest import run_cli
from tests.target.singer_input import KEY

pytestmark = pytest.mark.slow  # a killed process, a rerun and two target runs: about 30 s

DAY = 86_400
LAG = 300
TAP = Path(sys.executable).parent / "tap-stripe-billing"


@pytest.fixture
def server() -> Iterator[StripeStandIn]:
    account = generate_account(AccountConfig(seed=3, invoices=1500, history_days=120, horizon_days=30))
    with StripeStandIn(account, port=0) as srv:
        yield srv


def done_ranges(state: dict[str, Any]) -> list[tuple[int, int]]:
    progress = state["bookmarks"]["subscription_billed"][CHECKPOINT_KEY]
    return [(parse_timestamp(a) or 0, int(parse_timestamp(b) or 0)) for a, b in progress["done"]]


def start_tap(
    server: StripeStandIn, tmp_path: Path, start: int, latency: float, **extra: Any
) -> subprocess.Popen[str]:
    """The tap as a process, a checkpoint after every slice (``checkpoint_interval_seconds: 0``), against
    the stand-in slowed down by ``latency`` seconds a request so that it can be killed mid-backfill."""
    config = {
        "api_key": LIVE_KEY,
        "api_url": server.url,
        "start_date": iso_utc(start),
        "max_requests_per_second": 1000,
        "max_requests_per_second_per_endpoint": 1000,
        "backfill_parallelism": 3,
        "checkpoint_interval_seconds": 0,
        **extra,
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    server.latency_seconds = latency
    tap = subprocess.Popen(
        [TAP, "--config", tmp_path / "tap.json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert tap.stdout is not None
    return tap


def rerun(server: StripeStandIn, tmp_path: Path, state: dict[str, Any]) -> str:
    """An hour later (the rerun still finishes the same backfill), at full speed, from ``state``: its
    output. The stand-in's counts start from zero."""
    server.reset_stats()
    server.latency_seconds = 0
    server.account.advance(hours=1)
    (tmp_path / "state.json").write_text(json.dumps(state))
    return subprocess.run(
        [TAP, "--config", tmp_path / "tap.json", "--state", tmp_path / "state.json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout


def sent_by_invoice(outputs: list[str], tmp_path: Path) -> Counter[str]:
    """Each run's output (up to what its target delivered) through the target, one journal, to the
    KISSmetrics stand-in: the billed events it received, by invoice id."""
    with KissmetricsStandIn(api_key=KEY) as kissmetrics:
        target = {"api_key": KEY, "tracking_url": kissmetrics.url, "journal_path": str(tmp_path / "j.sqlite")}
        for text in outputs:
            assert run_cli(target, text, tmp_path).returncode == 0
        billed = [r for r in kissmetrics.requests if r.first("_n") == "Subscription Billed"]
        return Counter(request.first("Stripe Invoice ID") for request in billed)


def test_a_killed_backfill_resumes_with_the_slices_it_had_not_finished(
    server: StripeStandIn, tmp_path: Path
) -> None:
    account = server.account
    start = account.now - 100 * DAY
    tap = start_tap(server, tmp_path, start, 0.03)
    assert tap.stdout is not None
    delivered: list[str] = []
    since_state: list[str] = []
    lines: list[str] = []  # what the tap wrote, up to its last STATE
    checkpoint: dict[str, Any] | None = None
    slices_done = 0
    for line in tap.stdout:
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            lines.append(line)
        elif message["type"] == "RECORD" and message["stream"] == "subscription_billed":
            since_state.append(line)
        elif message["type"] == "STATE" and CHECKPOINT_KEY in json.dumps(message["value"]):
            checkpoint = message["value"]
            lines += [*since_state, line]
            delivered += [json.loads(record)["record"]["invoice_id"] for record in since_state]
            since_state = []
            slices_done += 1
            if slices_done == 5:
                tap.send_signal(signal.SIGKILL)
                break
    tap.wait(timeout=30)
    assert tap.returncode == -signal.SIGKILL, "killed before the end"
    assert checkpoint is not None
    first_windows = dict(server.invoice_windows)
    done = done_ranges(checkpoint)
    upper = parse_timestamp(checkpoint["bookmarks"]["subscription_billed"][CHECKPOINT_KEY]["upper"])
    assert upper is not None

    second = rerun(server, tmp_path, checkpoint)
    messages = [json.loads(line) for line in second.splitlines()]
    again_read = [
        m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "subscription_billed"
    ]
    final = [m["value"] for m in messages if m["type"] == "STATE"][-1]["bookmarks"]["subscription_billed"]

    def overlaps_done(window: tuple[str | None, str | None]) -> bool:
        gte, lt = int(window[0] or 0), int(window[1] or 0)
        return any(gte < b and a < lt for a, b in done)

    reread = {window: n for window, n in server.invoice_windows.items() if overlaps_done(window)}
    assert reread == {}, "no created range already delivered is read again"
    assert server.invoice_windows, "the rest was read"
    expected = expected_billed(account, paid_before=upper, paid_from=start)
    assert {record["invoice_id"] for record in again_read} | set(delivered) == set(expected)
    again = set(delivered) & {record["invoice_id"] for record in again_read}
    created = {i: account.get("invoice", i).created for i in again}
    assert not any(overlaps_done((str(c), str(c + 1))) for c in created.values()), "only cut slices again"
    assert CHECKPOINT_KEY not in final and parse_timestamp(final["replication_key_value"]) == upper

    sent = sent_by_invoice(["".join(lines), second], tmp_path)
    with_email = {i for i, record in expected.items() if record["customer_email"]}  # no identity: not sent
    assert set(sent) == with_email and max(sent.values()) == 1, "every payment once, none twice"
    first_slices = {w for w in first_windows if w[0] is not None}
    print(
        f"first run: {len(first_slices)} slices started, {slices_done} complete at the kill "
        f"({len(delivered)} records delivered); rerun read {len(server.invoice_windows)} windows "
        f"({sum(server.invoice_windows.values())} requests), {len(again_read)} records "
        f"({len(again)} of a cut slice again, skipped by the journal), 0 re-read "
        f"from the {len(done)} complete ranges; state {len(json.dumps(checkpoint))} bytes"
    )


@pytest.fixture
def platform() -> Iterator[StripeStandIn]:
    own = generate_account(AccountConfig(seed=4, invoices=10, history_days=120, horizon_days=30))
    with StripeStandIn(own, port=0) as srv:
        srv.connect(3, invoices=600)
        yield srv


def billed_partitions(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parts = state["bookmarks"]["subscription_billed"].get("partitions") or []
    return {p["context"]["account_id"]: p for p in parts}


def ranges(progress: dict[str, Any]) -> list[tuple[int, int]]:
    return [(parse_timestamp(a) or 0, int(parse_timestamp(b) or 0)) for a, b in progress["done"]]


def test_a_killed_backfill_over_connected_accounts_resumes_each_account(
    platform: StripeStandIn, tmp_path: Path
) -> None:
    """Three connected accounts, each its own partition and checkpoint: killed once the first account's
    backfill is finished and the next one's partly done, the rerun reads no range either had delivered,
    and every account's payments reach KISSmetrics once."""
    start = platform.account.now - 100 * DAY
    tap = start_tap(platform, tmp_path, start, 0.02, all_connected_accounts=True)
    assert tap.stdout is not None
    lines: list[str] = []  # what the tap wrote, up to its last STATE: what the target delivered
    since_state: list[str] = []
    checkpoint: dict[str, Any] | None = None
    for line in tap.stdout:
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            lines.append(line)
        elif message["type"] == "RECORD":
            since_state.append(line)
        elif message["type"] == "STATE":
            lines += [*since_state, line]
            since_state = []
            parts = billed_partitions(message["value"])
            finished = [a for a, p in parts.items() if p.get("replication_key_value")]
            partly = [a for a, p in parts.items() if len(p.get(CHECKPOINT_KEY, {}).get("done") or []) >= 2]
            if finished and partly:
                checkpoint = message["value"]
                tap.send_signal(signal.SIGKILL)
                break
    tap.wait(timeout=60)
    assert tap.returncode == -signal.SIGKILL, "killed before the end"
    assert checkpoint is not None
    parts = billed_partitions(checkpoint)
    [done_account] = [a for a, p in parts.items() if p.get("replication_key_value")]
    [partly_account] = [a for a, p in parts.items() if CHECKPOINT_KEY in p]
    partly_done = ranges(parts[partly_account][CHECKPOINT_KEY])
    upper = parse_timestamp(parts[partly_account][CHECKPOINT_KEY]["upper"])
    assert upper is not None and partly_done

    second = rerun(platform, tmp_path, checkpoint)
    # The paid-invoice backfill always bounds created[lt]; subscription_changed's own first read (the
    # killed run had not reached it) lists invoices from created[gte] up to now.
    windows = [w for w in platform.invoice_windows_by_account if w[2] is not None]
    assert not [w for w in windows if w[0] == done_account], (
        "the finished account's backfill is not read again"
    )
    reread = [
        w
        for w in windows
        if w[0] == partly_account and any(int(w[1] or 0) < b and a < int(w[2] or 0) for a, b in partly_done)
    ]
    assert reread == [], "no created range the killed run had delivered is read again"
    assert [w for w in windows if w[0] == partly_account], "the rest of the partly read account was read"

    sent = sent_by_invoice(["".join(lines), second], tmp_path)
    assert max(sent.values()) == 1, "none twice"
    for account in platform.platform.accounts:
        data = platform.platform.generated(account, platform.account.now)
        expected = expected_billed(data, paid_before=upper, paid_from=start)
        with_email = {i for i, record in expected.items() if record["customer_email"]}
        assert with_email and with_email <= set(sent), f"{account}: a payment never reached KISSmetrics"
