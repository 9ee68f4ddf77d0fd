"""Shared machinery of the reliability tests: the real pipeline as a shell pipe, kills, ground truth.

A :class:`Cell` is one user's installation: its own tap and target config files, state file and
delivery journal, against the stand-ins of a :class:`~local_pipeline.LocalPipeline` shared by a test
module. ``Cell.run()`` runs ``tap-stripe-billing --config … --state … | target-kissmetrics --config …``
exactly as a user does, and keeps the state as a user would: the last STATE line the target printed.
It can SIGKILL the tap, the target or both (their whole process groups) at a chosen moment.

Ground truth comes from the Stripe stand-in's generator (``GET /_standin/truth/billed``); what
KISSmetrics would show comes from the KISSmetrics stand-in's de-duplicated ``dashboard``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from local_pipeline import LocalPipeline
from stand_ins.processes import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
TAP_EXE = str(VENV_BIN / "tap-stripe-billing")
TARGET_EXE = str(VENV_BIN / "target-kissmetrics")
START_DATE = "2026-09-01T00:00:00Z"  # the stand-in's clock is 2026-11-01: two months of payments
LAG_SECONDS = 5 * 60  # the tap's default lag_minutes
BILLED = "Subscription Billed"

# Figures the tests report (printed at the end of the session by conftest.py).
FIGURES: dict[str, Any] = {"cells": [], "crash_trials": [], "bad_inputs": [], "drift": [], "secrets": []}


def meltano_sys_dir() -> Path:
    """The `.meltano/` folder the `meltano` commands of this process use in this checkout (an xdist
    worker has its own: tests/conftest.py)."""
    return Path(os.environ.get("MELTANO_SYS_DIR_ROOT") or REPO_ROOT / ".meltano")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any of the pipeline's own settings: config comes from the files only."""
    prefixes = ("TAP_STRIPE_BILLING_", "TARGET_KISSMETRICS_", "MELTANO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def kill_group(process: subprocess.Popen[Any] | None) -> None:
    """SIGKILL a child started with ``start_new_session=True`` and everything in its process group."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def group_alive(pgid: int, wait_seconds: float = 5.0) -> bool:
    """Whether a live (not zombie) process is left in the process group, waiting a moment for it to die."""
    deadline = time.monotonic() + wait_seconds
    while True:
        alive = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                alive = True
                break
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def billed_catalog(workdir: Path) -> Path:
    """A catalog selecting only ``subscription_billed`` (other streams may come and go in the tap)."""
    discovered = subprocess.run(
        [
            TAP_EXE,
            "--config",
            str(_write(workdir / "discover.json", {"api_key": "sk_live_discover"})),
            "--discover",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=clean_env(),
        cwd=workdir,
    )
    catalog = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        selected = stream["tap_stream_id"] == "subscription_billed"
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = selected
    return _write(workdir / "catalog.json", catalog)


def _write(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return path


@dataclass
class Kill:
    """When and whom to SIGKILL during a run: after a delay, once KISSmetrics has N more requests, or
    once Stripe has N more requests."""

    who: str  # "tap" | "target" | "both"
    after_seconds: float | None = None
    after_requests: int | None = None
    after_stripe_requests: int | None = None

    def describe(self) -> str:
        if self.after_seconds is not None:
            return f"{self.after_seconds} s"
        if self.after_requests is not None:
            return f"{self.after_requests} KISSmetrics requests"
        return f"{self.after_stripe_requests} Stripe requests"


def stripe_requests(pipeline: LocalPipeline) -> int:
    """API requests the Stripe stand-in has answered so far (faulted ones included)."""
    return sum(pipeline.stripe.control("stats").values())


@dataclass
class RunResult:
    tap_rc: int | None
    target_rc: int | None
    target_stdout: str
    tap_stderr: str
    target_stderr: str
    killed: bool
    state_before: dict[str, Any] | None
    state_after: dict[str, Any] | None
    seconds: float
    alive_at_kill: frozenset[str] = frozenset()  # "tap"/"target": still running when the kill came

    @property
    def ok(self) -> bool:
        return self.tap_rc == 0 and self.target_rc == 0

    def error_lines(self) -> list[str]:
        """The run's error lines: the tap's ``tap-stripe-billing: error:`` and the target's ``| ERROR``."""
        tap = [ln for ln in self.tap_stderr.splitlines() if ln.startswith("tap-stripe-billing: error:")]
        target = [ln for ln in self.target_stderr.splitlines() if "| ERROR" in ln]
        return tap + target


def bookmark(state: dict[str, Any] | None, stream: str = "subscription_billed") -> str | None:
    if not state:
        return None
    return (state.get("bookmarks", {}).get(stream) or {}).get("replication_key_value")


@dataclass
class Cell:
    """One user's pipe installation against the shared stand-ins."""

    pipeline: LocalPipeline
    workdir: Path
    catalog: Path
    tap_extra: dict[str, Any] = field(default_factory=dict)
    target_extra: dict[str, Any] = field(default_factory=dict)
    env_extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.workdir / "state.json"
        self.journal_path = self.workdir / "journal.sqlite"
        self.runs = 0

    def tap_config(self) -> dict[str, Any]:
        return self.pipeline.tap_config(start_date=START_DATE, backoff_base_seconds=0.01, **self.tap_extra)

    def target_config(self) -> dict[str, Any]:
        base = {"journal_path": str(self.journal_path), "backoff_base_seconds": 0.01, "timeout_seconds": 5}
        return self.pipeline.target_config(**{**base, **self.target_extra})

    def state(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def run(self, kill: Kill | None = None, timeout: float = 120) -> RunResult:
        """``tap --config --catalog [--state] | target --config``; keep the last STATE line as the state."""
        self.runs += 1
        tag = f"run{self.runs}"
        tap_cfg = _write(self.workdir / "tap.json", self.tap_config())
        target_cfg = _write(self.workdir / "target.json", self.target_config())
        state_before = self.state()
        tap_cmd = [TAP_EXE, "--config", str(tap_cfg), "--catalog", str(self.catalog)]
        if self.state_path.exists():
            tap_cmd += ["--state", str(self.state_path)]
        paths = {name: self.workdir / f"{tag}.{name}" for name in ("out", "tap.err", "target.err")}
        env = clean_env(**self.env_extra)
        start = time.monotonic()
        base_requests = self.pipeline.kissmetrics.control("count")["requests"] if kill else 0
        base_stripe = stripe_requests(self.pipeline) if kill and kill.after_stripe_requests else 0
        tap = target = None
        killed = False
        alive_at_kill: set[str] = set()
        with (
            paths["out"].open("w") as out,
            paths["tap.err"].open("w") as tap_err,
            paths["target.err"].open("w") as target_err,
        ):
            try:
                tap = subprocess.Popen(
                    tap_cmd,
                    stdout=subprocess.PIPE,
                    stderr=tap_err,
                    env=env,
                    cwd=self.workdir,
                    start_new_session=True,
                )
                target = subprocess.Popen(
                    [TARGET_EXE, "--config", str(target_cfg)],
                    stdin=tap.stdout,
                    stdout=out,
                    stderr=target_err,
                    env=env,
                    cwd=self.workdir,
                    start_new_session=True,
                )
                assert tap.stdout is not None
                tap.stdout.close()  # the target holds the read end: a dead target gives the tap EPIPE
                deadline = start + timeout
                while time.monotonic() < deadline:
                    if target.poll() is not None and tap.poll() is not None:
                        break
                    if kill is not None and not killed and self._due(kill, start, base_requests, base_stripe):
                        if kill.who in ("tap", "both"):
                            if tap.poll() is None:
                                alive_at_kill.add("tap")
                            kill_group(tap)
                        if kill.who in ("target", "both"):
                            if target.poll() is None:
                                alive_at_kill.add("target")
                            kill_group(target)
                        killed = True
                    time.sleep(0.005)
                else:
                    raise AssertionError(f"pipeline run did not finish in {timeout} s")
            finally:
                kill_group(tap)
                kill_group(target)
                for process in (tap, target):
                    if process is not None:
                        process.wait(timeout=30)
        for process in (tap, target):
            if process is not None:
                assert not group_alive(process.pid), "a child of the pipeline outlived its run"
        stdout = paths["out"].read_text()
        states = []
        for line in stdout.splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue  # a line cut short by a SIGKILL
            if isinstance(value, dict):
                states.append(value)
        if states:  # as a user keeps it: the last STATE line the target printed
            _write(self.state_path, states[-1])
        return RunResult(
            tap_rc=tap.returncode if tap else None,
            target_rc=target.returncode if target else None,
            target_stdout=stdout,
            tap_stderr=paths["tap.err"].read_text(),
            target_stderr=paths["target.err"].read_text(),
            killed=killed,
            state_before=state_before,
            state_after=self.state(),
            seconds=time.monotonic() - start,
            alive_at_kill=frozenset(alive_at_kill),
        )

    def _due(self, kill: Kill, start: float, base_requests: int, base_stripe: int = 0) -> bool:
        if kill.after_seconds is not None and time.monotonic() - start >= kill.after_seconds:
            return True
        if kill.after_requests is not None:
            count = self.pipeline.kissmetrics.control("count")["requests"]
            return bool(count - base_requests >= kill.after_requests)
        if kill.after_stripe_requests is not None:
            return stripe_requests(self.pipeline) - base_stripe >= kill.after_stripe_requests
        return False


# -- ground truth and what KISSmetrics shows -----------------------------------------------------------
def unix(iso_text: str) -> int:
    return int(datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp())


def expected_billed(pipeline: LocalPipeline) -> dict[str, dict[str, Any]]:
    """invoice id -> the generator's record, for every payment KISSmetrics must show after a run now."""
    clock = pipeline.stripe.control("clock")["now"]
    query = f"truth/billed?paid_from={unix(START_DATE)}&paid_before={clock - LAG_SECONDS}"
    truth = pipeline.stripe.control(query)
    return {r["invoice_id"]: r for r in truth if r["customer_email"] and "@" in r["customer_email"]}


def billed_requests(pipeline: LocalPipeline) -> list[dict[str, Any]]:
    """Every raw ``Subscription Billed`` request the KISSmetrics stand-in received (re-sends included)."""
    return [r for r in pipeline.kissmetrics.control("requests") if dict(r["params"]).get("_n") == BILLED]


def dashboard_billed(pipeline: LocalPipeline) -> list[dict[str, Any]]:
    return [e for e in pipeline.received() if e["event"] == BILLED]


@dataclass
class Tally:
    expected: int
    shown: int
    lost: list[str]
    double_counted: list[str]
    unexpected: list[str]
    wrong: list[str]
    raw_requests: int

    @property
    def resends(self) -> int:
        """Raw requests beyond the events KISSmetrics shows: re-sends its de-duplication absorbed."""
        return self.raw_requests - self.shown

    @property
    def exact(self) -> bool:
        return not (self.lost or self.double_counted or self.unexpected or self.wrong)


def tally(
    pipeline: LocalPipeline, expected: dict[str, dict[str, Any]], *, check_values: bool = True
) -> Tally:
    """Compare KISSmetrics' de-duplicated view with the ground truth, event by event."""
    shown = dashboard_billed(pipeline)
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for event in shown:
        by_invoice.setdefault(event["properties"].get("Stripe Invoice ID", "?"), []).append(event)
    wrong = []
    if check_values:
        for invoice_id, events in by_invoice.items():
            truth = expected.get(invoice_id)
            if truth is None:
                continue
            event = events[0]
            props = event["properties"]
            if (
                event["person"] != truth["customer_email"].strip().lower()
                or event["timestamp"] != unix(truth["paid_at"])
                or Decimal(props["Billing Amount"]) != Decimal(str(truth["amount"]))
                or props["Subscription Plan Level"] != truth["plan_level"]
            ):
                wrong.append(invoice_id)
    return Tally(
        expected=len(expected),
        shown=len(shown),
        lost=sorted(set(expected) - set(by_invoice)),
        double_counted=sorted(i for i, events in by_invoice.items() if len(events) > 1),
        unexpected=sorted(set(by_invoice) - set(expected)),
        wrong=sorted(wrong),
        raw_requests=len(billed_requests(pipeline)),
    )


def assert_exact(result: Tally, context: str = "") -> None:
    assert result.exact, (
        f"{context}: lost={result.lost[:5]} ({len(result.lost)}), double={result.double_counted[:5]}, "
        f"unexpected={result.unexpected[:5]}, wrong={result.wrong[:5]}"
    )
    assert result.shown == result.expected


def assert_fails_loudly(run: RunResult) -> str:
    """Non-zero exit, exactly one clear error line, no traceback, no STATE past the previous one."""
    assert not run.ok, "expected a failed run"
    errors = run.error_lines()
    assert len(errors) == 1, f"expected one error line, got {errors!r}"
    assert "Traceback" not in run.tap_stderr + run.target_stderr
    assert bookmark(run.state_after) == bookmark(run.state_before), "STATE advanced past a failure"
    return errors[0]


def resends_by_key(pipeline: LocalPipeline) -> Counter[str]:
    return Counter(dict(r["params"]).get("Stripe Invoice ID", "?") for r in billed_requests(pipeline))
