"""End to end at zero latency: ``tap-stripe-billing | target-kissmetrics`` into the KISSmetrics stand-in.

Two account sizes (10,000 and 100,000 invoices; ``--quick``: 2,000 and 20,000). Records per second is
billed records ÷ wall time of the whole pipe (both processes started to both exited). Peak memory is
each child's own ``VmHWM`` polled from ``/proc`` (``harness.PeakMemory``; ``ru_maxrss`` from
``os.wait4`` reported the benchmark process's own peak for both children). Baseline, same run, same
account: the tap alone into a file (the ceiling the target can at most reach).

The tap alone runs three times per size: its peak memory at the large size against the small one,
every run. CPU per record (large size): each plugin's own user + system time (``os.wait4`` of that
process; stand-ins excluded), the tap's the median of its three runs, the target's reading the tap's
saved output; each next to its floor (``floors.py``) measured in the same run on the same data.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import (
    KM_KEY,
    ROOT,
    TARGET,
    Finished,
    PeakMemory,
    Row,
    Section,
    Stripe,
    run_process,
    tap_argv,
    tap_config,
    temp_dir,
    wait_rusage,
    write_json,
)
from stand_ins.processes import StandInProcess
from stand_ins.stripe import LIVE_KEY

LAG = 300
RATE = 100  # Stripe's live limit: at zero latency the default 20/s would be all we measured
# The per-endpoint cap (default 25/s, Stripe's default per endpoint) is raised to the same 100 here: the
# stand-in enforces no per-endpoint limit in this benchmark; the records/s row says so.


def pipe(work: Path, stripe: Stripe, km: StandInProcess) -> tuple[float, float, float]:
    """(seconds, tap peak MiB, target peak MiB) of one ``tap | target`` run."""
    journal = Path(tempfile.mkdtemp(dir=work)) / "journal.sqlite"
    target_cfg = write_json(
        work, "target.json", {"api_key": KM_KEY, "tracking_url": km.url, "journal_path": str(journal)}
    )
    started = time.perf_counter()
    tap = subprocess.Popen(
        tap_argv(
            work, tap_config(stripe, max_requests_per_second=RATE, max_requests_per_second_per_endpoint=RATE)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    target = subprocess.Popen(
        [TARGET, "--config", target_cfg],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    tap_peak, target_peak = PeakMemory(tap.pid), PeakMemory(target.pid)
    assert tap.stdout is not None
    tap.stdout.close()
    tap_code, tap_rss = wait_rusage(tap, tap_peak)
    target_code, target_rss = wait_rusage(target, target_peak)
    seconds = time.perf_counter() - started
    if tap_code or target_code:
        raise RuntimeError(f"pipeline failed: tap {tap_code}, target {target_code}")
    return seconds, tap_rss, target_rss


RUNS = 3  # tap-alone runs per size: peak memory must be stable across them


def alone(work: Path, stripe: Stripe, out: Path) -> Finished:
    """The tap alone, whole history, its Singer lines into ``out``."""
    argv = tap_argv(
        work, tap_config(stripe, max_requests_per_second=RATE, max_requests_per_second_per_endpoint=RATE)
    )
    with out.open("wb") as sink:
        finished = run_process(argv, stdout=sink)
    if finished.returncode != 0:
        raise RuntimeError(f"tap failed: {finished.stderr[-1500:]}")
    return finished


def target_alone(work: Path, km: StandInProcess, lines: Path) -> Finished:
    """The target reading the tap's saved output (so its CPU is its own), into the stand-in."""
    journal = Path(tempfile.mkdtemp(dir=work)) / "journal.sqlite"
    config = write_json(
        work, "target.json", {"api_key": KM_KEY, "tracking_url": km.url, "journal_path": str(journal)}
    )
    with lines.open("rb") as source:
        finished = run_process([TARGET, "--config", config], stdin=source, capture_stdout=False)
    if finished.returncode != 0:
        raise RuntimeError(f"target failed: {finished.stderr[-1500:]}")
    return finished


def floor(*args: str) -> Finished:
    """One of ``benchmarks/floors.py``'s minimal programs (its CPU time is the floor)."""
    finished = run_process([sys.executable, "-m", "benchmarks.floors", *args])
    if finished.returncode != 0:
        raise RuntimeError(f"floor failed: {finished.stderr[-1500:]}")
    return finished


@dataclass
class Measured:
    billed: int
    pipe_s: float
    pipe_tap_mib: float
    pipe_target_mib: float
    alone: list[Finished]
    cpu: dict[str, float] = field(default_factory=dict)  # tap, reader, target, sender (CPU seconds)
    target_mib: float = 0.0

    @property
    def tap_mib(self) -> list[float]:
        return [a.maxrss_mib for a in self.alone]


def measure(invoices: int, *, cpu: bool) -> Measured:
    with (
        Stripe(invoices, history_days=400) as stripe,
        StandInProcess("kissmetrics") as km,
        temp_dir() as tmp,
    ):
        work = Path(tmp)
        billed = len(stripe.billed(None, stripe.now() - LAG))
        seconds, tap_rss, target_rss = pipe(work, stripe, km)
        lines = work / "tap-out.jsonl"
        runs = [alone(work, stripe, lines if i == 0 else work / "tap-out-again.jsonl") for i in range(RUNS)]
        measured = Measured(billed, seconds, tap_rss, target_rss, runs)
        if cpu:
            measured.cpu["tap"] = statistics.median(r.cpu_seconds for r in runs)
            measured.cpu["reader"] = floor("reader", stripe.url, LIVE_KEY).cpu_seconds
            target = target_alone(work, km, lines)
            measured.cpu["target"], measured.target_mib = target.cpu_seconds, target.maxrss_mib
            measured.cpu["sender"] = floor("sender", km.url, KM_KEY, str(lines)).cpu_seconds
    return measured


def run(quick: bool) -> Section:
    sizes = (2_000, 20_000) if quick else (10_000, 100_000)
    section = Section()
    small, big = sizes
    measured = {small: measure(small, cpu=False), big: measure(big, cpu=True)}
    for invoices in sizes:
        m = measured[invoices]
        rate = m.billed / m.pipe_s
        alone_s = statistics.median(a.seconds for a in m.alone)
        section.rows.append(
            Row(
                f"End to end, {invoices:,} invoices ({m.billed:,} records): records/s"
                " (per-endpoint cap raised to 100)",
                rate,
                m.billed / alone_s,
                "tap alone into a file (ceiling)",
                "rec/s",
                better="higher",
            )
        )
        section.details.append(
            f"e2e {invoices}: pipe {m.pipe_s:.1f} s (tap {m.pipe_tap_mib:.0f} MiB, target"
            f" {m.pipe_target_mib:.0f} MiB); tap alone x{RUNS}: "
            + ", ".join(
                f"{a.seconds:.1f} s {a.maxrss_mib:.1f} MiB {a.cpu_seconds:.1f} s CPU" for a in m.alone
            )
        )
    m = measured[big]
    per = 1e6 / m.billed
    for label, own, low, floor_name in (
        ("tap", "tap", "reader", "minimal reader: same client pages the same invoices, parses JSON"),
        ("target", "target", "sender", "minimal sender: same HTTP client, one GET per record"),
    ):
        ratio = m.cpu[own] / m.cpu[low]
        section.rows.append(
            Row(
                f"CPU per record, {label} (user+sys of its process), {big:,} invoices",
                m.cpu[own] * per,
                m.cpu[low] * per,
                floor_name,
                "µs",
                "<= 1.5x floor",
                ratio <= 1.5,
                better="higher",
            )
        )
    section.details.append(f"CPU seconds at {big:,} invoices ({m.billed:,} records): {m.cpu}")
    small_tap = statistics.median(measured[small].tap_mib)
    big_taps = measured[big].tap_mib
    section.rows += [
        Row(
            f"Peak memory of the tap, {big:,} invoices (median of {RUNS} runs; all: "
            + ", ".join(f"{v:.0f}" for v in big_taps)
            + ")",
            statistics.median(big_taps),
            small_tap,
            f"same process at {small:,} invoices, median of {RUNS}: "
            + ", ".join(f"{v:.0f}" for v in measured[small].tap_mib),
            "MiB",
            "<= 1.2x, every run",
            max(big_taps) <= 1.2 * small_tap,
            better="higher",
        ),
        Row(
            f"Peak memory of the target, {big:,} invoices",
            measured[big].pipe_target_mib,
            measured[small].pipe_target_mib,
            f"same process at {small:,} invoices",
            "MiB",
            "<= 1.2x",
            measured[big].pipe_target_mib <= 1.2 * measured[small].pipe_target_mib,
            better="higher",
        ),
    ]
    return section
