"""The target as a process, as Meltano runs it: exit codes, STATE withheld, one-line errors, redaction."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stand_ins.kissmetrics import KissmetricsStandIn
from tests.target.conftest import run_cli
from tests.target.singer_input import KEY, billed, refunded, singer_lines

pytestmark = pytest.mark.slow  # the target's executable as a process

STATE = {"bookmarks": {"subscription_billed": {"replication_key_value": "2024-03-02T00:00:00Z"}}}
INPUT = singer_lines(
    [("subscription_billed", billed(f"in_{i}", customer_email=f"u{i}@example.com")) for i in range(8)]
    + [("subscription_billed", billed("in_noemail", customer_email=None))]
    + [("subscription_refunded", refunded())],
    STATE,
)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def test_success_emits_state_and_a_summary(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    result = run_cli(config, INPUT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.states == [STATE]
    assert len(standin.requests) == 9
    [summary] = [line for line in result.stderr.splitlines() if "Run summary" in line]
    assert "sent=9, retried=0, already_delivered=0, skipped=1, failed=0" in summary
    assert "no_identity (1): subscription_billed:in_noemail" in summary
    assert "@example.com" not in summary


def test_state_is_withheld_when_delivery_fails(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    standin.faults.configure(schedule={3: "503", 4: "503", 5: "503"})  # one request fails every retry
    result = run_cli({**config, "max_retries": 2, "max_concurrency": 1}, INPUT, tmp_path)
    assert result.returncode != 0
    assert result.stdout.strip() == ""  # no STATE at all
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr  # one clear line
    assert re.search(r"Delivery failed: [1-9]\d* events were not delivered after retries", errors[0])
    assert "HTTP 503 after 2 retries" in errors[0]
    [summary] = [line for line in result.stderr.splitlines() if "Run summary" in line]
    assert re.search(r"failed=[1-9]", summary)
    assert "Traceback" not in result.stderr


def test_after_a_failure_a_rerun_sends_only_what_is_missing(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    standin.faults.configure(schedule={3: "503", 4: "503"})
    assert run_cli({**config, "max_retries": 1, "max_concurrency": 1}, INPUT, tmp_path).returncode != 0
    sent_first = len(standin.requests)
    standin.faults.clear()
    result = run_cli(config, INPUT, tmp_path)
    assert result.returncode == 0 and result.states == [STATE]
    assert len(standin.requests) == 9 and sent_first < 9  # nothing delivered is sent twice
    assert len(standin.dashboard()) == 9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tracking_url": "http://trk.kissmetrics.io"}, "plain http to trk.kissmetrics.io"),
        ({"tracking_url": "ftp://127.0.0.1"}, "tracking_url must be an http(s) URL"),
        ({"api_key": "  "}, "api_key is empty"),
        ({"max_concurrency": 0}, "max_concurrency must be between 1 and 256"),
        ({"event_mappings": {"subscription_billed": {"properties": {"_n": "amount"}}}}, "is reserved"),
        ({"event_mappings": {"subscription_billed": {"event_name": "A:B"}}}, "contains ',' or ':'"),
    ],
)
def test_bad_config_is_one_clear_line(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    result = run_cli({**config, **change}, INPUT, tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    [error] = error_lines(result.stderr)
    assert message in error
    assert "Traceback" not in result.stderr
    assert standin.requests == []


def test_unknown_stream_names_the_known_ones(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    text = (
        '{"type":"SCHEMA","stream":"invoices","schema":{"properties":{"id":{"type":"string"}}},'
        '"key_properties":["id"]}\n'
    )
    result = run_cli(config, text, tmp_path)
    assert result.returncode == 1
    [error] = error_lines(result.stderr)
    assert "stream 'invoices' has no event mapping; known streams: subscription_billed, " in error


def test_journal_under_a_file_is_one_clear_line_and_nothing_is_sent(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("not a directory")
    result = run_cli({**config, "journal_path": str(tmp_path / "afile" / "j.sqlite")}, INPUT, tmp_path)
    assert result.returncode == 1
    [error] = error_lines(result.stderr)
    assert "is not usable" in error
    assert standin.requests == []


def test_journal_path_that_is_a_directory_is_one_clear_line(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "adir").mkdir()
    result = run_cli({**config, "journal_path": str(tmp_path / "adir")}, INPUT, tmp_path)
    assert result.returncode == 1
    [error] = error_lines(result.stderr)
    assert "journal_path" in error and "is not usable" in error
    assert standin.requests == []


def test_default_journal_path_under_meltano_project_root(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from target_kissmetrics.journal import default_journal_path

    # Outside .meltano/ (which `meltano install` partly empties and backups skip), one per environment.
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("MELTANO_ENVIRONMENT", "prod")
    assert default_journal_path() == tmp_path / ".target-kissmetrics/prod/journal.sqlite"
    monkeypatch.setenv("MELTANO_ENVIRONMENT", "local")
    assert default_journal_path() == tmp_path / ".target-kissmetrics/local/journal.sqlite"
    monkeypatch.delenv("MELTANO_ENVIRONMENT")
    assert default_journal_path() == tmp_path / ".target-kissmetrics/no-environment/journal.sqlite"
    monkeypatch.delenv("MELTANO_PROJECT_ROOT")
    assert str(default_journal_path()) == ".target-kissmetrics/journal.sqlite"
    cfg = {k: v for k, v in config.items() if k != "journal_path"}
    assert run_cli(cfg, INPUT, tmp_path).returncode == 0
    assert (tmp_path / ".target-kissmetrics" / "journal.sqlite").exists()


def test_the_key_never_appears_in_any_output(
    standin: KissmetricsStandIn, config: dict[str, Any], tmp_path: Path
) -> None:
    outputs: list[str] = []
    debug = dict(config)

    def run(cfg: dict[str, Any], text: str = INPUT) -> None:
        result = run_cli(cfg, text, tmp_path, env_extra={"LOGLEVEL": "DEBUG"})
        outputs.extend([result.stdout, result.stderr])

    run(debug)  # success, urllib3 debug logging on
    run({**debug, "dry_run": True, "journal_path": str(tmp_path / "dry.sqlite")})  # dry run
    standin.faults.configure(rates={"503": 1.0})
    run({**debug, "max_retries": 1, "journal_path": str(tmp_path / "f.sqlite")})  # delivery failure
    standin.faults.configure(rates={"drop": 1.0})
    run({**debug, "max_retries": 1, "journal_path": str(tmp_path / "g.sqlite")})  # connection resets
    standin.faults.clear()
    run({**config, "tracking_url": "http://example.com"})  # config error
    run({**config, "tracking_url": "https://127.0.0.1:1", "max_retries": 0})  # TLS/connection error
    run({**config, "tracking_url": standin.url + "/nope"})  # fatal 404
    text = "\n".join(outputs)
    assert "dry run, not sent: GET" in text and "_k=REDACTED" in text
    assert "Delivery failed" in text
    assert '"GET /e?_k=REDACTED&_p=' in text  # urllib3's own debug line, redacted
    assert KEY not in text
    assert "KMSECRET" not in text
