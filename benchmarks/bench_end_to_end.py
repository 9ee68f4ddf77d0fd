"""End to end at zero latency: ``tap-stripe-billing | target-kissmetrics`` into the KISSmetrics stand-in.

Two account sizes (10,000 and 100,000 invoices; ``--quick``: 2,000 and 20,000). Records per second is
billed records ÷ wall time of the whole pipe (both processes started to both exited). Peak memory is
each child's own ``VmHWM`` polled from ``/proc`` (``harness.PeakMemory``; ``ru_maxrss`` from
``os.wait4`` reported the benchmark process's own peak for both children). Baseline, same run, same
account: the tap alone into /dev/null (the ceiling the target can at most reach).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import (
    KM_KEY,
    ROOT,
    TARGET,
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


def run(quick: bool) -> Section:
    sizes = (2_000, 20_000) if quick else (10_000, 100_000)
    section = Section()
    measured = {}
    for invoices in sizes:
        with (
            Stripe(invoices, history_days=400) as stripe,
            StandInProcess("kissmetrics") as km,
            temp_dir() as tmp,
        ):
            work = Path(tmp)
            billed = len(stripe.billed(None, stripe.now() - LAG))
            seconds, tap_rss, target_rss = pipe(work, stripe, km)
            alone = run_process(
                tap_argv(
                    work,
                    tap_config(
                        stripe, max_requests_per_second=RATE, max_requests_per_second_per_endpoint=RATE
                    ),
                ),
                capture_stdout=False,
            )
            measured[invoices] = (billed, seconds, tap_rss, target_rss, alone.seconds, alone.maxrss_mib)
    small, big = sizes
    for invoices in sizes:
        billed, seconds, tap_rss, target_rss, alone_s, _ = measured[invoices]
        rate = billed / seconds
        section.rows.append(
            Row(
                f"End to end, {invoices:,} invoices ({billed:,} records): records/s"
                " (per-endpoint cap raised to 100)",
                rate,
                billed / alone_s,
                "tap alone into /dev/null (ceiling)",
                "rec/s",
                ">= 2,000",
                rate >= 2000,
                better="higher",
            )
        )
        section.details.append(
            f"e2e {invoices}: {seconds:.1f} s, tap {tap_rss:.0f} MiB, target {target_rss:.0f} MiB, "
            f"tap alone {alone_s:.1f} s"
        )
    for label, index in (("tap", 2), ("target", 3)):
        section.rows.append(
            Row(
                f"Peak memory of the {label}, {big:,} invoices",
                measured[big][index],
                measured[small][index],
                f"same process at {small:,} invoices",
                "MiB",
                "<= 1.2x",
                measured[big][index] <= 1.2 * measured[small][index],
                better="higher",
            )
        )
    return section
