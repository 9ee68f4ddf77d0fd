"""The KISSmetrics stand-in: recording, GET and POST, de-duplication, violations, faults, control API."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from stand_ins.kissmetrics import KissmetricsStandIn
from stand_ins.kissmetrics.server import PIXEL_GIF

KEY = "standinkey"


@pytest.fixture
def server() -> Iterator[KissmetricsStandIn]:
    with KissmetricsStandIn(api_key=KEY) as srv:
        yield srv  # type: ignore[misc]


def q(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def event(person: str = "a@example.com", name: str = "Signed Up", t: int = 1700000000, **props: str) -> str:
    params = [("_k", KEY), ("_p", person), ("_n", name), ("_t", str(t)), ("_d", "1")]
    return q(params + sorted(props.items()))


def get(server: KissmetricsStandIn, path: str, timeout: float = 5) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"{server.url}{path}", timeout=timeout) as response:
        return response.status, response.read()


def control(server: KissmetricsStandIn, method: str, name: str, payload: object = None) -> object:
    data = json.dumps(payload).encode() if payload is not None else (b"{}" if method == "POST" else None)
    request = urllib.request.Request(f"{server.url}/_standin/{name}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_get_is_recorded_and_answered_with_a_gif(server: KissmetricsStandIn) -> None:
    status, body = get(server, "/e?" + event(Plan="Gold %, : ü"))
    assert status == 200 and body == PIXEL_GIF
    [request] = server.requests
    assert request.method == "GET" and request.path == "/e"
    assert request.params == [
        ("_k", KEY),
        ("_p", "a@example.com"),
        ("_n", "Signed Up"),
        ("_t", "1700000000"),
        ("_d", "1"),
        ("Plan", "Gold %, : ü"),
    ]
    assert request.raw_query.startswith("_k=standinkey&_p=a%40example.com")


def test_post_form_is_recorded(server: KissmetricsStandIn) -> None:
    request = urllib.request.Request(
        f"{server.url}/s",
        data=q([("_k", KEY), ("_p", "b@example.com"), ("Plan", "Pro")]).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200 and response.read() == PIXEL_GIF
    [recorded] = server.requests
    assert recorded.method == "POST" and recorded.path == "/s"
    assert recorded.params == [("_k", KEY), ("_p", "b@example.com"), ("Plan", "Pro")]
    assert server.violations() == []


def test_alias_endpoint_and_even_nonsense_gets_200(server: KissmetricsStandIn) -> None:
    assert get(server, "/a?" + q([("_k", KEY), ("_p", "x"), ("_n", "y")]))[0] == 200
    assert get(server, "/e?garbage")[0] == 200
    assert len(server.requests) == 2
    problems = {v["problem"] for v in server.violations()}
    assert problems == {"missing _k", "missing _p", "missing _n"}


def test_dashboard_deduplicates_same_person_event_time_and_properties(server: KissmetricsStandIn) -> None:
    get(server, "/e?" + event(Amount="49.90"))
    get(server, "/e?" + event(Amount="49.90"))  # exact repeat: counted once
    get(server, "/e?" + event(Amount="49.9"))  # different value: a second event
    get(server, "/e?" + event(t=1700000001, Amount="49.90"))  # different _t: a third
    get(server, "/e?" + event(person="b@example.com", Amount="49.90"))  # different person: a fourth
    assert len(server.requests) == 5
    dashboard = server.dashboard()
    assert len(dashboard) == 4
    assert dashboard[0].properties == {"Amount": "49.90"}


def test_t_is_only_honoured_with_d(server: KissmetricsStandIn) -> None:
    params = [("_k", KEY), ("_p", "a@example.com"), ("_n", "Signed Up"), ("_t", "1700000000")]
    get(server, "/e?" + q(params))
    [event_shown] = server.dashboard()
    assert event_shown.timestamp != 1700000000  # the receive time is used instead
    assert any(v["problem"] == "_t without _d=1 is ignored" for v in server.violations())


def test_violations(server: KissmetricsStandIn) -> None:
    get(server, "/e?" + q([("_k", "wrong"), ("_p", "a,b"), ("_n", "x:y")]))
    get(server, "/e?" + event() + "&_p=other")  # a property named _p
    get(server, "/e?" + event(**{"N" * 255: "v"}))
    get(server, "/e?" + event(V="x" * 513))
    get(server, "/e?" + event(V="x" * 512, **{"N" * 254: "v"}))  # right at the limits: fine
    get(server, "/e?" + event(t=1200000000))
    by_index: dict[int, set[str]] = {}
    for v in server.violations():
        by_index.setdefault(v["index"], set()).add(v["problem"])
    assert by_index[0] == {"wrong _k", "',' or ':' in _p", "',' or ':' in _n"}
    assert by_index[1] == {"reserved property name _p (given 2 times)"}
    assert by_index[2] == {"property name of 255 characters"}
    assert by_index[3] == {"value of V has 513 characters"}
    assert 4 not in by_index
    assert by_index[5] == {"_t before 2009 is not stored"}


def test_fault_503_then_ok(server: KissmetricsStandIn) -> None:
    server.faults.configure(schedule={1: "503"})
    with pytest.raises(urllib.error.HTTPError) as info:
        get(server, "/e?" + event())
    assert info.value.code == 503
    assert get(server, "/e?" + event())[0] == 200
    assert len(server.requests) == 1  # the failed one was not processed
    assert server.faults.describe()["injected"] == {"503": 1}


def test_fault_slow(server: KissmetricsStandIn) -> None:
    server.slow_seconds = 0.5
    server.faults.configure(schedule={1: "slow"})
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        get(server, "/e?" + event(), timeout=0.2)
    assert time.monotonic() - started < 0.45
    time.sleep(0.5)
    # A slow answer is still processed: a client that timed out and retries sends it a second time.
    assert len(server.requests) == 1
    assert get(server, "/e?" + event())[0] == 200
    assert len(server.requests) == 2 and len(server.dashboard()) == 1


def test_fault_drop_resets_the_connection(server: KissmetricsStandIn) -> None:
    server.faults.configure(schedule={1: "drop"})
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=5)
    conn.request("GET", "/e?" + event())
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)):
        conn.getresponse()
    conn.close()
    assert server.requests == [] and server.dropped == 1


def test_fault_rates_are_seeded(server: KissmetricsStandIn) -> None:
    control(server, "POST", "faults", {"rates": {"503": 0.5}, "seed": 7})
    first = []
    for _ in range(20):
        try:
            first.append(get(server, "/e?" + event())[0])
        except urllib.error.HTTPError as exc:
            first.append(exc.code)
    control(server, "POST", "faults", {"rates": {"503": 0.5}, "seed": 7})
    second = []
    for _ in range(20):
        try:
            second.append(get(server, "/e?" + event())[0])
        except urllib.error.HTTPError as exc:
            second.append(exc.code)
    assert first == second and 503 in first and 200 in first


def test_latency(server: KissmetricsStandIn) -> None:
    control(server, "POST", "latency", {"ms": 100})
    started = time.monotonic()
    get(server, "/e?" + event())
    assert time.monotonic() - started >= 0.1


_JPY = "Subscription Billing Currency"


def test_control_endpoints(server: KissmetricsStandIn) -> None:
    get(server, "/e?" + event(**{"Billing Amount": "49.90"}))
    get(server, "/e?" + event(t=1700000000 + 86400 * 40, **{"Billing Amount": "10.10"}))
    get(server, "/e?" + event(t=1700000000 + 86400 * 41, **{"Billing Amount": "5000", _JPY: "JPY"}))
    get(server, "/e?" + event(name="Refunded", **{"Billing Amount": "-49.90"}))
    get(server, "/e?" + event(person="b@example.com", name="Subscription Canceled"))
    assert len(control(server, "GET", "requests")) == 5  # type: ignore[arg-type]
    assert len(control(server, "GET", "dashboard")) == 5  # type: ignore[arg-type]
    assert control(server, "GET", "violations") == []
    summary = control(server, "GET", "summary")
    assert summary == {
        "requests": 5,
        "events": 5,
        "people": 2,
        "events_by_name": {"Refunded": 1, "Signed Up": 3, "Subscription Canceled": 1},
        "revenue_by_month": {"2023-11": {"?": "0.00"}, "2023-12": {"?": "10.10", "JPY": "5000"}},
    }
    assert control(server, "POST", "reset") == {"ok": True}
    assert server.requests == []


@pytest.mark.slow  # the stand-in's command line as a process
def test_cli_prints_banner_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "stand_ins.kissmetrics", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("KISSmetrics stand-in listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        with urllib.request.urlopen(f"{url}/e?_k=k&_p=p&_n=n", timeout=5) as response:
            assert response.read() == PIXEL_GIF
    finally:
        process.terminate()
        process.wait(timeout=10)
