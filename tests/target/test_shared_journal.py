"""Target processes sharing one journal on a real PostgreSQL server (``postgres_url``, local_pipeline/),
against the KISSmetrics stand-in: concurrent targets on overlapping input send each event exactly once,
and a killed target's pending events are re-sent, with their stored bytes, by the next one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.conftest import ROOT, run_cli
from tests.target.singer_input import KEY, billed, singer_lines
from tests.target.test_operations import STATE

pytestmark = pytest.mark.slow


def records(numbers: list[int], plan: str = "Pro") -> list[tuple[str, dict[str, Any]]]:
    return [
        ("subscription_billed", billed(f"in_{i}", customer_email=f"user{i}@example.com", plan_level=plan))
        for i in numbers
    ]


def start(config: dict[str, Any], folder: Path) -> subprocess.Popen[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TARGET_KISSMETRICS_", "MELTANO_"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "target_kissmetrics.target", "--config", str(folder / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
        env=env,
    )


def sent_per_invoice(standin: KissmetricsStandIn) -> Counter[str]:
    """Requests received per invoice (raw requests, before any de-duplication by KISSmetrics)."""
    return Counter(request.first("Stripe Invoice ID") or "?" for request in standin.requests)


def journal_rows(url: str) -> dict[str, tuple[str, str]]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as db:
            found = db.execute(sqlalchemy.text("SELECT record_key, status, request FROM deliveries"))
            return {key: (status, request) for key, status, request in found}
    finally:
        engine.dispose()


def test_three_targets_on_overlapping_input_send_each_event_exactly_once(
    standin: KissmetricsStandIn, postgres_url: str, tmp_path: Path
) -> None:
    """1,500 invoices; each of three targets gets 1,000 of them (every invoice goes to two targets), in
    a different order, all at once, one PostgreSQL journal."""
    standin.latency_seconds = 0.005
    config = {"api_key": KEY, "tracking_url": standin.url, "journal_url": postgres_url, "max_concurrency": 4}
    inputs = [
        list(range(0, 1000)),
        list(range(1499, 499, -1)),
        [*range(1250, 1500), *range(0, 500), *range(1000, 1250)],
    ]
    pieces = [singer_lines(records(numbers), STATE).splitlines(keepends=True) for numbers in inputs]
    targets = [start(config, tmp_path / f"t{n}") for n in range(len(inputs))]
    for offset in range(0, max(map(len, pieces)), 250):  # round robin, each first in turn: claims interleave
        turn = offset // 250 % len(targets)
        pairs = list(zip(targets, pieces, strict=True))
        for target, lines in pairs[turn:] + pairs[:turn]:
            assert target.stdin is not None
            target.stdin.write("".join(lines[offset : offset + 250]))
            target.stdin.flush()
        time.sleep(0.05)
    for target in targets:
        assert target.stdin is not None
        target.stdin.close()
        target.stdin = None  # so that communicate() does not flush it
    with ThreadPoolExecutor(len(targets)) as pool:
        outputs = list(pool.map(lambda target: target.communicate(timeout=240), targets))
    for target, (stdout, stderr) in zip(targets, outputs, strict=True):
        assert target.returncode == 0, stderr[-2000:]
        assert json.loads(stdout.splitlines()[-1])["bookmarks"], "each printed its STATE"
    sent = sent_per_invoice(standin)
    twice = [invoice for invoice, count in sent.items() if count > 1]
    assert twice == [], f"{len(twice)} events sent twice"
    assert set(sent) == {f"in_{i}" for i in range(1500)}, "none lost"
    assert Counter(status for status, _ in journal_rows(postgres_url).values()) == {"delivered": 1500}
    shares = [int(re.findall(r"sent=(\d+),", stderr)[-1]) for _, stderr in outputs]
    met = [int(re.findall(r"already_delivered=(\d+),", stderr)[-1]) for _, stderr in outputs]
    assert sum(shares) == 1500 and [a + b for a, b in zip(shares, met, strict=True)] == [1000, 1000, 1000]
    assert sorted(shares)[1] > 0, f"at least two targets sent events: {shares}"
    print(f"3 targets, 1500 events (3000 records), sent per target {shares}, sent twice {len(twice)}")


def test_a_killed_targets_pending_events_are_resent_with_their_stored_bytes(
    standin: KissmetricsStandIn, postgres_url: str, tmp_path: Path
) -> None:
    """The first target claims a chunk and is killed (SIGKILL) while KISSmetrics is slow; a second one,
    given the same invoices with a changed plan, re-sends the stored requests, not rebuilt ones."""
    config = {"api_key": KEY, "tracking_url": standin.url, "journal_url": postgres_url, "max_concurrency": 2}
    standin.latency_seconds = 2.0
    first = start(config, tmp_path / "first")
    assert first.stdin is not None
    first.stdin.write(singer_lines(records(list(range(600))), STATE))
    first.stdin.flush()
    deadline = time.monotonic() + 60
    while not (_has_table(postgres_url) and journal_rows(postgres_url)):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    stored = journal_rows(postgres_url)
    assert stored and all(status == "pending" for status, _ in stored.values())
    time.sleep(2.5)  # the stand-in finishes the requests the killed target had on the wire
    standin.latency_seconds = 0
    standin.reset()

    second = run_cli(config, singer_lines(records(list(range(600)), plan="Drifted"), STATE), tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"Re-sending {len(stored)} pending events left by an earlier run" in second.stderr
    sent = {request.first("Stripe Invoice ID"): request.raw_query for request in standin.requests}
    assert len(standin.requests) == len(sent) == 600, "each event sent once by the second target"
    for key, (_, request) in stored.items():
        assert sent[key].split("&", 1)[1] == request, "the stored bytes, not a rebuilt request"
    assert all("Plan%20Level=Pro" in sent[key] for key in stored)
    assert all("Plan%20Level=Drifted" in query for key, query in sent.items() if key not in stored)
    assert Counter(status for status, _ in journal_rows(postgres_url).values()) == {"delivered": 600}


def _has_table(url: str) -> bool:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as db:
            return bool(sqlalchemy.inspect(db).has_table("deliveries"))
    finally:
        engine.dispose()
