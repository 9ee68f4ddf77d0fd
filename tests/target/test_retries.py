"""The target's retries, counted exactly: through the transport and through the target's settings.

Each fails if retries are switched off (in the transport, or by the target not passing ``max_retries``).
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

import pytest
from target_kissmetrics.errors import DeliveryFailed
from target_kissmetrics.target import TargetKissmetrics
from target_kissmetrics.transport import Transport

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.singer_input import KEY, billed, singer_lines
from tests.target.test_golden_requests import BILLED_USD

STATE = {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-01T12:00:00Z"}}}


def _deliver(standin: KissmetricsStandIn, max_retries: int) -> Any:
    transport = Transport(
        standin.url, KEY, max_concurrency=1, max_retries=max_retries, backoff_base_seconds=0.01
    )
    try:
        return transport.deliver([BILLED_USD])
    finally:
        transport.close()


@pytest.mark.parametrize("faults", [["503"], ["drop"], ["503", "drop", "503"]])
def test_transport_retries_each_fault_until_delivered(standin: KissmetricsStandIn, faults: list[str]) -> None:
    standin.faults.configure(schedule={n: fault for n, fault in enumerate(faults, 1)})
    report = _deliver(standin, max_retries=3)
    assert report.delivered == [0] and report.failed == []
    assert report.retried == len(faults)
    assert len(standin.requests) == 1 and len(standin.dashboard()) == 1


def test_transport_gives_up_after_max_retries(standin: KissmetricsStandIn) -> None:
    standin.faults.configure(schedule={1: "503", 2: "503", 3: "503"})
    report = _deliver(standin, max_retries=2)
    assert report.delivered == [] and report.failed == [0]
    assert report.retried == 2
    assert report.first_error == "HTTP 503 after 2 retries"
    assert standin.requests == []


def test_target_passes_max_retries_to_its_transport(
    standin: KissmetricsStandIn, config: dict[str, Any]
) -> None:
    lines = singer_lines([("subscription_billed", billed())], STATE)
    standin.faults.configure(schedule={1: "503", 2: "503", 3: "503", 4: "503"})
    target = TargetKissmetrics(config={**config, "max_retries": 4})
    with redirect_stdout(io.StringIO()) as out:
        target.listen(io.StringIO(lines))
    assert target.summary.retried == 4 and target.summary.failed == 0
    assert '"replication_key_value"' in out.getvalue()
    assert len(standin.dashboard()) == 1

    standin.reset()
    standin.faults.configure(schedule={1: "503", 2: "503", 3: "503", 4: "503"})
    fewer = TargetKissmetrics(
        config={**config, "journal_path": config["journal_path"] + ".2", "max_retries": 3}
    )
    with (
        redirect_stdout(io.StringIO()) as out,
        pytest.raises(DeliveryFailed, match="HTTP 503 after 3 retries"),
    ):
        fewer.listen(io.StringIO(lines))
    assert out.getvalue() == ""  # no STATE past an event that was not delivered
