"""The Dagster project without Meltano: shard keys, schedule, the op's command, env, log and failures."""

from __future__ import annotations

import os
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, RetryPolicy, build_schedule_context
from dagster._core.definitions.partitions.definition import StaticPartitionsDefinition

from orchestration.jobs import HOURLY, MeltanoProject, build_job, build_schedule
from orchestration.meltano_log import Kind, classify
from orchestration.meltano_run import REDACTED, ShardRun, redact, secret_values
from orchestration.shards import shard_count, shard_keys, state_id_suffix
from stand_ins.processes import REPO_ROOT

SECRET = "sk_live_SECRETCANARY_dagster_91x"
KM_SECRET = "km_SECRETCANARY_account_key_7"


def test_shard_keys_are_the_taps_account_shard_values() -> None:
    assert shard_keys(4) == ["0/4", "1/4", "2/4", "3/4"]
    assert [state_id_suffix(k) for k in shard_keys(2)] == ["shard-0-of-2", "shard-1-of-2"]
    assert shard_count({"STRIPE_KM_SHARDS": "8"}) == 8
    assert shard_count({}) == 4
    for bad in ("0", "-1", "four", ""):
        with pytest.raises(ValueError, match="STRIPE_KM_SHARDS"):
            shard_count({"STRIPE_KM_SHARDS": bad})
    for bad in ("4/4", "1", "a/b", "1/0"):
        with pytest.raises(ValueError, match="K/N"):
            state_id_suffix(bad)


def test_code_location_loads_with_the_configured_shard_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from dagster import Definitions

    import orchestration.definitions as location

    monkeypatch.setenv("STRIPE_KM_SHARDS", "5")
    reloaded = importlib.reload(location)
    try:
        Definitions.validate_loadable(reloaded.defs)
        assert reloaded.sharded_job.partitions_def.get_partition_keys() == shard_keys(5)
    finally:
        monkeypatch.delenv("STRIPE_KM_SHARDS")
        importlib.reload(location)


def test_job_has_one_static_partition_per_shard() -> None:
    job = build_job(6)
    assert isinstance(job.partitions_def, StaticPartitionsDefinition)
    assert job.partitions_def.get_partition_keys() == shard_keys(6)


def test_hourly_schedule_requests_one_run_per_shard_as_meltano_yml_says() -> None:
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    assert [s["interval"] for s in project["schedules"]] == ["@hourly"]
    job = build_job(3)
    schedule = build_schedule(job)
    assert schedule.cron_schedule == HOURLY == "0 * * * *"
    tick = datetime(2026, 12, 6, 5, 0, tzinfo=timezone.utc)
    requests = list(schedule(build_schedule_context(scheduled_execution_time=tick)))  # type: ignore[call-overload]
    assert [r.partition_key for r in requests] == ["0/3", "1/3", "2/3"]
    assert len({r.run_key for r in requests}) == 3


def test_command_and_environment_of_a_shard(tmp_path: Path) -> None:
    (tmp_path / ".meltano/extractors").mkdir(parents=True)
    run = ShardRun(shard="2/4", project_dir=tmp_path, meltano_bin="meltano", environment="prod")
    assert run.command() == [
        "meltano",
        *("--environment", "prod", "run", "--state-id-suffix", "shard-2-of-4"),
        *("tap-stripe-billing", "target-kissmetrics"),
    ]
    env = run.environ({"TAP_STRIPE_BILLING_API_KEY": SECRET})
    assert env["TAP_STRIPE_BILLING_ACCOUNT_SHARD"] == "2/4"
    assert env["TAP_STRIPE_BILLING_API_KEY"] == SECRET  # secrets pass through the environment only
    journal = Path(env["TARGET_KISSMETRICS_JOURNAL_PATH"])
    assert journal == tmp_path / ".target-kissmetrics/prod/shards/shard-2-of-4/journal.sqlite"
    assert journal.parent.is_dir()
    # Its own Meltano run folder (concurrent runs remove each other's catalog); shared plugins and state.
    assert env["MELTANO_SYS_DIR_ROOT"] == str(tmp_path / ".meltano/shards/shard-2-of-4")
    assert env["MELTANO_DATABASE_URI"] == f"sqlite:///{tmp_path / '.meltano/meltano.db'}"
    assert (
        tmp_path / ".meltano/shards/shard-2-of-4/extractors"
    ).resolve() == tmp_path / ".meltano/extractors"
    # A shared journal (PostgreSQL) is used by every shard as given.
    shared = run.environ({"TARGET_KISSMETRICS_JOURNAL_URL": "postgresql+psycopg://u:pw123456@h/db"})
    assert "TARGET_KISSMETRICS_JOURNAL_PATH" not in shared


def test_redaction_covers_keys_key_maps_and_url_passwords() -> None:
    env = {
        "TAP_STRIPE_BILLING_API_KEY": SECRET,
        "TARGET_KISSMETRICS_ACCOUNT_API_KEYS": f'{{"acct_1": "{KM_SECRET}"}}',
        "MELTANO_DATABASE_URI": "postgresql+psycopg://meltano:hunter2hunter@127.0.0.1/meltano",
        "TAP_STRIPE_BILLING_ALL_CONNECTED_ACCOUNTS": "true",
    }
    secrets = secret_values(env)
    line = f"key {SECRET} map {KM_SECRET} db postgresql+psycopg://meltano:hunter2hunter@127.0.0.1/x true"
    cleaned = redact(line, secrets)
    assert SECRET not in cleaned and KM_SECRET not in cleaned and "hunter2hunter" not in cleaned
    assert cleaned.count(REDACTED) == 3 and cleaned.endswith(" true")


def test_only_warnings_errors_and_run_summaries_become_dagster_log_events() -> None:
    # As Meltano prints them (its level, then the plugin's name), plus a plugin's plain stderr.
    stamp = "2026-12-06T05:10:21.632106Z"
    info, tap = f"{stamp} [info     ]", "tap-stripe-billing"
    problems = [
        f"{stamp} [warning  ] meltano      No state was found, complete import.",
        f"{stamp} [error    ] meltano      The process was terminated",
        f"{stamp} [warning  ] tap-stripe-billing acct_1: 429 from Stripe, retrying in 2 s",
        f"{info} {tap} tap_stripe_billing.errors.ConfigError: account_shard must be K/N",
        "WARNING:root:plain Python logging on stderr",
        "ValueError: bad input",
    ]
    summaries = [
        f"{stamp} [info     ] tap-stripe-billing subscription_billed: run summary: mode=backfill"
        " requests={'GET /v1/invoices': 48} retries={} records_emitted=22",
        f"{stamp} [info     ] target-kissmetrics Run summary: sent=25, retried=0, already_delivered=0",
        f"{info} meltano      Run completed",
        f"{info} meltano      Block run completed.  block_type=ExtractLoadBlocks success=True",
    ]
    chatter = [
        f"{info} {tap} message='Request to Stripe api' method=get url=http://h/v1/invoices",
        f"{info} {tap} message='Stripe API response' path=/v1/prices response_code=200",
        f'{info} {tap} METRIC: {{"type":"counter","metric":"record_count","value":118}}',
        f"{stamp} [info     ] meltano      Environment 'local' is active",
        "",
    ]
    assert [classify(line) for line in problems] == [Kind.PROBLEM] * len(problems)
    assert [classify(line) for line in summaries] == [Kind.SUMMARY] * len(summaries)
    assert [classify(line) for line in chatter] == [Kind.NONE] * len(chatter)


def _fake_meltano(tmp_path: Path) -> Path:
    """A stand-in `meltano` that prints its arguments, its shard and a secret, and exits as told."""
    script = tmp_path / "meltano"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "with open(os.environ['FAKE_MELTANO_CALLS'], 'a') as calls:\n"
        "    calls.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "print('args', *sys.argv[1:])\n"
        "print('shard', os.environ['TAP_STRIPE_BILLING_ACCOUNT_SHARD'], file=sys.stderr)\n"
        "print('leaked', os.environ['TAP_STRIPE_BILLING_API_KEY'])\n"
        "print(\"[info     ] tap-stripe-billing message='Request to Stripe api' method=get\")\n"
        "key = os.environ['TAP_STRIPE_BILLING_API_KEY']\n"
        "print('[warning  ] tap-stripe-billing retrying 429, key', key)\n"
        "print('[info     ] target-kissmetrics Run summary: sent=3, failed=0')\n"
        "sys.exit(int(os.environ.get('FAKE_MELTANO_EXIT', '0')))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int) -> tuple[object, list[str]]:
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_MELTANO_CALLS", str(calls))
    monkeypatch.setenv("FAKE_MELTANO_EXIT", str(exit_code))
    monkeypatch.setenv("TAP_STRIPE_BILLING_API_KEY", SECRET)
    job = build_job(4, retry_policy=RetryPolicy(max_retries=2, delay=0))
    meltano = MeltanoProject(
        project_dir=str(tmp_path), meltano_bin=str(_fake_meltano(tmp_path)), journal_root=str(tmp_path / "j")
    )
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(
        partition_key="1/4", resources={"meltano": meltano}, raise_on_error=False, instance=instance
    )
    result.stored_logs = instance.all_logs(result.run_id)  # type: ignore[attr-defined]
    return result, calls.read_text().splitlines()


def _messages(result: object) -> str:
    """Everything Dagster stored for the run: what its web UI shows."""
    return "\n".join(f"{e.user_message} {e.dagster_event}" for e in result.stored_logs)  # type: ignore[attr-defined]


def test_op_streams_the_log_redacted_and_passes_the_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    result, calls = _run(tmp_path, monkeypatch, exit_code=0)
    assert result.success  # type: ignore[attr-defined]
    assert calls == ["run --state-id-suffix shard-1-of-4 tap-stripe-billing target-kissmetrics"]
    logs = _messages(result)
    # Dagster's event log: the op's own line, warnings and summaries; every line (redacted) on stderr.
    assert "shard 1/4" in logs and f"retrying 429, key {REDACTED}" in logs and "Run summary: sent=3" in logs
    assert "leaked" not in logs and "Request to Stripe api" not in logs
    assert SECRET not in logs
    captured = capfd.readouterr()
    assert f"leaked {REDACTED}" in captured.err and "Request to Stripe api" in captured.err
    assert SECRET not in captured.out + captured.err
    run = result.dagster_run  # type: ignore[attr-defined]
    assert SECRET not in str(run.run_config) + str(run.tags)
    assert (tmp_path / "j" / "shard-1-of-4").is_dir()


def test_non_zero_exit_fails_the_op_after_its_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, calls = _run(tmp_path, monkeypatch, exit_code=3)
    assert not result.success  # type: ignore[attr-defined]
    assert len(calls) == 3  # the first attempt and two retries
    events = result.all_events  # type: ignore[attr-defined]
    assert sum(e.event_type == DagsterEventType.STEP_UP_FOR_RETRY for e in events) == 2
    failure = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert len(failure) == 1 and "exited with 3" in str(failure[0].event_specific_data)
    assert SECRET not in _messages(result)


def test_installed_from_its_own_pinned_requirements() -> None:
    folder = REPO_ROOT / "orchestration"
    requirements = (folder / "requirements.txt").read_text()
    assert "dagster>=1.13,<1.14" in requirements
    import dagster

    pinned = (folder / "constraints.txt").read_text()
    assert f"\ndagster=={dagster.__version__}\n" in pinned
    assert os.access(folder / "install.sh", os.X_OK)
