"""Shared plumbing for the benchmark suite: stand-ins as child processes, the tap and target as child
processes with their own peak memory (``VmHWM`` polled from ``/proc``, see ``PeakMemory``), config
files, and the table.

Nothing here is imported by the products or the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from stand_ins.processes import StandInProcess  # noqa: E402
from stand_ins.stripe import LIVE_KEY  # noqa: E402

VENV_BIN = Path(sys.executable).parent
TAP = str(VENV_BIN / "tap-stripe-billing")
TARGET = str(VENV_BIN / "target-kissmetrics")
KM_KEY = "km_bench_key"


# -- the table -------------------------------------------------------------------------------------
@dataclass
class Row:
    """One figure next to its baseline, measured in the same run."""

    figure: str
    ours: float
    baseline: float | None
    baseline_name: str
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""
    better: str = "lower"  # which way is better, for the ratio column

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.ours or not self.baseline:
            return None
        return self.baseline / self.ours if self.better == "lower" else self.ours / self.baseline


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(rows: Sequence[Row]) -> str:
    head = ["figure", "ours", "baseline (same run)", "ratio", "goal", "met"]
    body = []
    for r in rows:
        ratio = r.ratio
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        body.append(
            [
                r.figure,
                f"{fmt(r.ours)} {r.unit}",
                f"{fmt(r.baseline)} {r.unit if r.baseline is not None else ''} ({r.baseline_name})".strip(),
                "-" if ratio is None else f"{ratio:.1f}x",
                r.goal,
                met,
            ]
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    notes = [f"- {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


# -- stand-ins -------------------------------------------------------------------------------------
class Stripe(StandInProcess):
    """The Stripe stand-in as a child process, with helpers for its control endpoints."""

    def __init__(
        self,
        invoices: int,
        *,
        seed: int = 7,
        history_days: int = 120,
        latency_ms: float = 0,
        api_version: str | None = None,
    ) -> None:
        super().__init__(
            "stripe",
            *("--invoices", str(invoices), "--seed", str(seed), "--history-days", str(history_days)),
            *("--latency-ms", str(latency_ms)),
            *(("--api-version", api_version) if api_version else ()),
            startup_timeout=600,
        )

    def stats(self) -> dict[str, int]:
        return {k: v for k, v in self.control("stats").items() if " /v1/" in k}

    def reset(self) -> None:
        self.control("stats/reset", {})

    def now(self) -> int:
        return int(self.control("clock")["now"])

    def billed(self, paid_from: int | None, paid_before: int) -> list[dict[str, Any]]:
        query = f"paid_before={paid_before}" + (f"&paid_from={paid_from}" if paid_from is not None else "")
        return list(self.control(f"truth/billed?{query}"))


# -- child processes with peak memory --------------------------------------------------------------
@dataclass
class Finished:
    returncode: int
    seconds: float
    maxrss_mib: float
    stderr: str = ""
    stdout: bytes = b""
    cpu_seconds: float = 0.0  # the child's own user + system time


def _drain(stream: IO[bytes] | None, sink: list[bytes]) -> threading.Thread:
    def run() -> None:
        if stream is not None:
            for chunk in iter(lambda: stream.read(65536), b""):
                sink.append(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _vm_hwm_kib(pid: int) -> int | None:
    """The process's own peak RSS (``VmHWM`` of ``/proc/<pid>/status``, KiB), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class PeakMemory:
    """Polls one child's ``VmHWM`` until it exits: its own peak RSS since its ``exec``.

    Not ``ru_maxrss`` from ``os.wait4``: on Linux that is the maximum of every memory image the child
    ever had, and a child started by ``vfork``/``fork`` + ``exec`` (``subprocess.Popen``) gets the
    *parent's* high-water mark recorded at ``exec`` time. The benchmark process holds the ground truth
    of large accounts, so ``ru_maxrss`` showed the benchmark's own peak for every child (same value for
    the tap and the target). ``VmHWM`` belongs to the image after ``exec`` only. Sampled every 20 ms; it
    is monotonic, so only growth in the last sample interval before exit can be missed.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(interval,), daemon=True)
        self._thread.start()

    def _poll(self, interval: float) -> None:
        while True:
            value = _vm_hwm_kib(self.pid)
            if value is None:  # exited (zombie: no VmHWM line) or gone
                return
            self.kib = max(self.kib, value)
            if self._stop.wait(interval):
                return

    def stop(self) -> float:
        """Stop polling; the peak in MiB."""
        self._stop.set()
        self._thread.join()
        return self.kib / 1024.0


def wait_child(proc: subprocess.Popen[bytes], peak: PeakMemory | None = None) -> tuple[int, float, float]:
    """Wait for a child; (exit code, its own peak RSS in MiB (see :class:`PeakMemory`), its own CPU
    seconds, user + system, all its threads, from ``os.wait4``)."""
    if peak is None:
        peak = PeakMemory(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, peak.stop(), usage.ru_utime + usage.ru_stime


def wait_rusage(proc: subprocess.Popen[bytes], peak: PeakMemory | None = None) -> tuple[int, float]:
    """Wait for a child; (exit code, its own peak RSS in MiB, see :class:`PeakMemory`)."""
    code, rss, _ = wait_child(proc, peak)
    return code, rss


def run_process(
    argv: Sequence[str],
    *,
    capture_stdout: bool = True,
    timeout: float = 900,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
) -> Finished:
    """Run one child to the end; its stdout (bytes, unless sent to ``stdout``), stderr (text), wall time,
    peak memory and CPU time."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        stdin=stdin,
        stdout=stdout if stdout is not None else subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    peak = PeakMemory(proc.pid)
    threads = [_drain(proc.stdout, out), _drain(proc.stderr, err)]
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        code, rss, cpu = wait_child(proc, peak)
    finally:
        timer.cancel()
    for thread in threads:
        thread.join()
    return Finished(
        code, time.perf_counter() - started, rss, b"".join(err).decode(errors="replace"), b"".join(out), cpu
    )


def write_json(directory: Path, name: str, payload: Any) -> str:
    path = directory / name
    path.write_text(json.dumps(payload))
    return str(path)


def last_state(stdout: bytes) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(b'{"type":"STATE"') or line.startswith(b'{"type": "STATE"'):
            state = json.loads(line)["value"]
    return state


def count_records(stdout: bytes) -> int:
    return sum(1 for line in stdout.splitlines() if b'"type":"RECORD"' in line or b'"type": "RECORD"' in line)


_CATALOGS: dict[str, str] = {}


def billed_catalog(workdir: Path, config_path: str) -> str:
    """A catalog that selects only ``subscription_billed`` (the tap may have other streams)."""
    key = str(workdir)
    if key not in _CATALOGS:
        found = subprocess.run([TAP, "--config", config_path, "--discover"], capture_output=True, check=True)
        catalog = json.loads(found.stdout)
        for stream in catalog["streams"]:
            chosen = stream["tap_stream_id"] == "subscription_billed"
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = chosen
        _CATALOGS[key] = write_json(workdir, "catalog.json", catalog)
    return _CATALOGS[key]


def tap_argv(
    workdir: Path, config: dict[str, Any], state: dict[str, Any] | None = None, *, all_streams: bool = False
) -> list[str]:
    """The tap's command line: only ``subscription_billed``, or (``all_streams``) all four streams
    (no catalog: every stream is selected by default)."""
    config_path = write_json(workdir, "tap.json", config)
    argv = [TAP, "--config", config_path]
    if not all_streams:
        argv += ["--catalog", billed_catalog(workdir, config_path)]
    if state:
        argv += ["--state", write_json(workdir, "state.json", state)]
    return argv


def run_tap(
    workdir: Path, config: dict[str, Any], state: dict[str, Any] | None = None, *, all_streams: bool = False
) -> Finished:
    """``tap-stripe-billing --config … --catalog … [--state …]`` (only ``subscription_billed``, or all
    four streams)."""
    argv = tap_argv(workdir, config, state, all_streams=all_streams)
    finished = run_process(argv)
    if finished.returncode != 0:
        raise RuntimeError(f"tap failed ({finished.returncode}): {finished.stderr[-2000:]}")
    return finished


def tap_config(stripe: Stripe, **extra: Any) -> dict[str, Any]:
    return {"api_key": LIVE_KEY, "api_url": stripe.url, **extra}


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="stripe-km-bench-")


@dataclass
class Section:
    """What one benchmark returns: its rows and free-form details for the README."""

    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
