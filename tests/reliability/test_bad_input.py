# ruff: noqa: E501 - the table holds exact error lines
"""Bad input: each case ends with one exact, clear line and the right exit code, and nothing is lost or
sent wrongly: no request reaches the KISSmetrics stand-in and no STATE goes past the bad input.

Fatal cases (bad keys, bad settings, broken Singer input) exit 1 and print no STATE. Cases of one
record carrying bad data (an identity that is not an email, an over-long value) follow SPEC §3: the
record is not sent, the run goes on, and the run summary names its key: they exit 0 and are checked to
send nothing and to be named. The table in the README (Guarantees) lists the same cases.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_pipeline import JOB, MELTANO, LocalPipeline
from stand_ins.processes import REPO_ROOT
from stand_ins.stripe import RESTRICTED_NO_INVOICES_KEY
from tests.reliability.conftest import reset_kissmetrics, shared_pipeline
from tests.reliability.harness import FIGURES, TARGET_EXE, Cell, clean_env, expected_billed, kill_group, tally
from tests.target.singer_input import SCHEMAS, billed

pytestmark = pytest.mark.slow  # real processes against stand-ins


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    yield from shared_pipeline(tmp_path_factory, invoices=150, seed=51)


_TAP = "tap-stripe-billing: error: "
_STOPPED = "; the run stopped there and no STATE was emitted past it"

# (case, tap config changes, exact error line)
TAP_CASES = [
    (
        "empty Stripe key",
        {"api_key": ""},
        _TAP + "api_key is missing or empty: set a Stripe secret or restricted key (sk_live_/rk_live_)",
    ),
    (
        "malformed Stripe key",
        {"api_key": "hello_world"},
        _TAP + "api_key does not look like a Stripe secret or restricted key (sk_live_/rk_live_)",
    ),
    (
        "publishable Stripe key",
        {"api_key": "pk_live_51PublishableKey0000001"},
        _TAP + "api_key is a publishable key (pk_...): use a secret (sk_live_) or restricted (rk_live_) key",
    ),
    (
        "test-mode Stripe key",
        {"api_key": "sk_test_51TestModeKey00000001"},
        _TAP + "api_key is a test-mode key (sk_test_/rk_test_): set allow_test_mode to true to use it",
    ),
    (
        "Stripe 401 (unknown key)",
        {"api_key": "sk_live_51RevokedKey000000001"},
        _TAP + "Stripe rejected the API key (401 Unauthorized): check api_key",
    ),
    (
        "Stripe 403 (restricted key without invoices)",
        {"api_key": RESTRICTED_NO_INVOICES_KEY},
        _TAP
        + "The Stripe key may not read invoices (403 Forbidden on GET /v1/invoices): give the restricted key read access to invoices",
    ),
    (
        "plain-http Stripe URL, not loopback",
        {"api_url": "http://api.stripe.example"},
        _TAP + "api_url uses plain http to a non-loopback host (api.stripe.example): use https",
    ),
]


@pytest.mark.parametrize(("case", "change", "line"), TAP_CASES, ids=[c[0] for c in TAP_CASES])
def test_bad_tap_input(  # noqa: PLR0917
    pipeline: LocalPipeline, catalog: Path, tmp_path: Path, case: str, change: dict[str, Any], line: str
) -> None:
    reset_kissmetrics(pipeline)
    cell = Cell(pipeline, tmp_path, catalog, tap_extra=change)
    run = cell.run()
    assert run.tap_rc == 1
    assert run.error_lines() == [line]
    assert run.tap_stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in run.tap_stderr
    assert "RECORD" not in run.target_stdout and cell.state() is None  # no record, no STATE
    assert pipeline.kissmetrics.control("count")["requests"] == 0
    FIGURES["bad_inputs"].append({"case": case, "line": line, "exit": 1})


def test_corrupt_state_file(pipeline: LocalPipeline, catalog: Path, tmp_path: Path) -> None:
    reset_kissmetrics(pipeline)
    cell = Cell(pipeline, tmp_path, catalog)
    cell.state_path.write_text('{"bookmarks": {"subscription_billed": ')  # a half-written state file
    run = cell.run()
    line = (
        _TAP
        + "the --state or --catalog file is not valid JSON (line 1 column 39): fix it, or remove --state to start from start_date"
    )
    assert run.tap_rc == 1 and run.error_lines() == [line]
    assert "Traceback" not in run.tap_stderr
    assert cell.state_path.read_text().endswith(": ")  # left as it was
    assert pipeline.kissmetrics.control("count")["requests"] == 0
    FIGURES["bad_inputs"].append({"case": "corrupt state file", "line": line, "exit": 1})


# -- the target's input and settings -------------------------------------------------------------------
def schema_line(
    stream: str = "subscription_billed", required: tuple[str, ...] = ("invoice_id", "paid_at")
) -> str:
    properties, keys = SCHEMAS[stream]
    schema = {"type": "object", "properties": properties, "required": list(required)}
    return json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys})


def record_line(record: dict[str, Any], stream: str = "subscription_billed") -> str:
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


STATE_LINE = json.dumps(
    {"type": "STATE", "value": {"bookmarks": {"subscription_billed": {"replication_key_value": "x"}}}}
)
GOOD = record_line(billed("in_good", customer_email="good@example.com"))
_missing_paid_at = {k: v for k, v in billed("in_nopaid").items() if k != "paid_at"}
_missing_id = {k: v for k, v in billed("in_x").items() if k != "invoice_id"}


def lines(*items: str) -> str:
    return "".join(item + "\n" for item in items)


# (case, singer input, target config changes, exit code, exact message of the one ERROR/WARNING line,
#  skipped record key named in the run summary or None)
TARGET_CASES = [
    (
        "malformed JSON line",
        lines(schema_line(), GOOD, '{"type": "RECORD", "stream": ', STATE_LINE),
        {},
        1,
        "Invalid Singer input: a line is not valid JSON" + _STOPPED,
        None,
    ),
    (
        "record before its schema",
        lines(GOOD, schema_line(), STATE_LINE),
        {},
        1,
        "Invalid Singer input: a RECORD for stream 'subscription_billed' came before its SCHEMA" + _STOPPED,
        None,
    ),
    (
        "record missing required paid_at",
        lines(schema_line(), GOOD, record_line(_missing_paid_at), STATE_LINE),
        {},
        1,
        "Invalid Singer input: subscription_billed record in_nopaid does not match its schema: data must contain ['paid_at'] properties"
        + _STOPPED,
        None,
    ),
    (
        "record missing required invoice_id",
        lines(schema_line(), GOOD, record_line(_missing_id), STATE_LINE),
        {},
        1,
        "Invalid Singer input: subscription_billed record ? does not match its schema: data must contain ['invoice_id'] properties"
        + _STOPPED,
        None,
    ),
    (
        "amount that is not a number",
        lines(schema_line(), GOOD, record_line(billed("in_amt", amount="49,90")), STATE_LINE),
        {},
        1,
        "Invalid Singer input: subscription_billed record in_amt does not match its schema: data.amount must be number or null"
        + _STOPPED,
        None,
    ),
    (
        "unknown message type",
        lines(schema_line(), GOOD, '{"type": "RECORDS"}', STATE_LINE),
        {},
        1,
        "Invalid Singer input: unknown message type 'RECORDS'" + _STOPPED,
        None,
    ),
    (
        "unknown stream",
        lines(
            json.dumps(
                {
                    "type": "SCHEMA",
                    "stream": "invoices",
                    "schema": {"properties": {"id": {"type": "string"}}},
                    "key_properties": ["id"],
                }
            ),
            STATE_LINE,
        ),
        {},
        1,
        "stream 'invoices' has no event mapping; known streams: subscription_billed, subscription_canceled, subscription_changed, subscription_refunded (add one under the event_mappings setting)",
        None,
    ),
    (
        "unwritable journal",
        lines(schema_line(), GOOD, STATE_LINE),
        {"journal_path": "/proc/journal.sqlite"},
        1,
        "journal_path /proc/journal.sqlite is not usable: unable to open database file",
        None,
    ),
    (
        "plain-http tracking URL, not loopback",
        lines(schema_line(), GOOD, STATE_LINE),
        {"tracking_url": "http://trk.kissmetrics.io"},
        1,
        "tracking_url uses plain http to trk.kissmetrics.io: the key would travel in clear; use https (plain http is only allowed for loopback hosts)",
        None,
    ),
    (
        "identity that is not an email",
        lines(schema_line(), record_line(billed("in_name", customer_email="Alice Smith")), STATE_LINE),
        {},
        0,
        "Skipped subscription_billed record in_name (invalid_identity): customer_email is not an email address",
        "invalid_identity (1): subscription_billed:in_name",
    ),
    (
        "identity with ':' (KISSmetrics would mangle it)",
        lines(schema_line(), record_line(billed("in_colon", customer_email="a:b@example.com")), STATE_LINE),
        {},
        0,
        "Skipped subscription_billed record in_colon (invalid_identity): customer_email contains ',' or ':'",
        "invalid_identity (1): subscription_billed:in_colon",
    ),
    (
        "over-long identity",
        lines(
            schema_line(),
            record_line(billed("in_longmail", customer_email="x" * 600 + "@example.com")),
            STATE_LINE,
        ),
        {},
        0,
        "Skipped subscription_billed record in_longmail (invalid_identity): customer_email is too long",
        "invalid_identity (1): subscription_billed:in_longmail",
    ),
    (
        "over-long property value",
        lines(schema_line(), record_line(billed("in_longplan", plan_level="P" * 600)), STATE_LINE),
        {},
        0,
        "Skipped subscription_billed record in_longplan (value_too_long): Subscription Plan Level has 600 characters (limit 512)",
        "value_too_long (1): subscription_billed:in_longplan",
    ),
]


def run_target(config: dict[str, Any], text: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = cwd / "target.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [TARGET_EXE, "--config", str(path)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env=clean_env(),
    )


def message_of(log_line: str) -> str:
    return log_line.rsplit(" | ", 1)[-1]


@pytest.mark.parametrize(
    ("case", "text", "change", "code", "message", "named"), TARGET_CASES, ids=[c[0] for c in TARGET_CASES]
)
def test_bad_target_input(  # noqa: PLR0917
    pipeline: LocalPipeline,
    tmp_path: Path,
    case: str,
    text: str,
    change: dict[str, Any],
    code: int,
    message: str,
    named: str | None,
) -> None:
    reset_kissmetrics(pipeline)
    config = pipeline.target_config(**{"journal_path": str(tmp_path / "journal.sqlite"), **change})
    result = run_target(config, text, tmp_path)
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert pipeline.kissmetrics.control("count")["requests"] == 0, "a request reached KISSmetrics"
    level = "ERROR" if code else "WARNING"
    flagged = [ln for ln in result.stderr.splitlines() if re.search(rf"\| {level} +\|", ln)]
    assert [message_of(ln) for ln in flagged] == [message]
    if code:
        assert result.stdout.strip() == "", "STATE emitted past bad input"
    else:  # skipped by design (SPEC §3): not sent, named in the summary, the run's STATE goes on
        [summary] = [ln for ln in result.stderr.splitlines() if "Run summary" in ln]
        assert "skipped=1" in summary and named in summary
        assert "@" not in summary
    FIGURES["bad_inputs"].append({"case": case, "line": message, "exit": code})


# -- Meltano: a second hourly run while one is running --------------------------------------------------
HOLD_SECONDS = 5


def test_second_meltano_run_while_one_is_running_exits_1(pipeline: LocalPipeline, tmp_path: Path) -> None:
    """Deterministic whatever the load: once the first run is delivering, KISSmetrics holds every further
    request for HOLD_SECONDS (under the target's 15 s timeout, so nothing is retried), so the first run
    cannot end (~125 events one at a time) until the second one has been refused; then it is let go."""
    reset_kissmetrics(pipeline)
    pipeline.kissmetrics.control("latency", {"ms": 30})
    expected = expected_billed(pipeline)
    env = pipeline.meltano_env(
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'meltano.db'}",
        TARGET_KISSMETRICS_JOURNAL_PATH=str(tmp_path / "journal.sqlite"),
        TARGET_KISSMETRICS_MAX_CONCURRENCY="1",
    )
    first = subprocess.Popen(
        [MELTANO, "run", JOB],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while pipeline.kissmetrics.control("count")["requests"] < 3 and time.monotonic() < deadline:
            assert first.poll() is None, "the first run ended before delivering"
            time.sleep(0.05)
        pipeline.kissmetrics.control("latency", {"ms": HOLD_SECONDS * 1000})  # hold the first run
        at_start = pipeline.kissmetrics.control("count")["requests"]
        second = subprocess.run(
            [MELTANO, "run", JOB],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        still_running = first.poll() is None
        pipeline.kissmetrics.control("latency", {"ms": 0})  # let the first run finish
        _out, err = first.communicate(timeout=180)
    finally:
        pipeline.kissmetrics.control("latency", {"ms": 0})
        kill_group(first)
    assert still_running, "the first run must still be running when the second one starts"
    assert second.returncode == 1
    output = second.stdout + second.stderr
    pattern = (
        r"Another 'local:tap-stripe-billing-to-target-kissmetrics' pipeline is already running which started at "
        r"\S+ \S+\. Wait until \S+ \S+ when the job will be automatically cancelled if stale, or ignore this "
        r"check using the '--force' option\."
    )
    assert re.search(pattern, " ".join(output.split())), output[-3000:]
    assert first.returncode == 0, err[-3000:]
    assert at_start > 0
    result = tally(pipeline, expected)
    assert result.exact and result.resends == 0  # the refused run sent nothing at all
    FIGURES["bad_inputs"].append({"case": "second meltano run while one runs", "line": pattern, "exit": 1})
