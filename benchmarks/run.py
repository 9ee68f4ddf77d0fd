"""The benchmark suite: every figure of SPEC §5 next to a baseline measured in the same run, one table.

    scripts/bench.sh [--quick] [--only requests,backfill,delivery,e2e]

or, with the project's venv already installed: ``.venv/bin/python -m benchmarks.run [--quick]``.
How each figure is measured: ``benchmarks/README.md``. Benchmarks print figures; they are not tests.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import (
    bench_backfill,
    bench_end_to_end,
    bench_kissmetrics_delivery,
    bench_peers,
    bench_requests,
)
from benchmarks.harness import Row, Section, render_table

SECTIONS: dict[str, Callable[[bool], Section]] = {
    "requests": bench_requests.run,
    "peers": bench_peers.run,
    "backfill": bench_backfill.run,
    "delivery": bench_kissmetrics_delivery.run,
    "e2e": bench_end_to_end.run,
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return f"nproc {cores}, {cpu}, Python {platform.python_version()} ({platform.system()})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (~1-2 minutes)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    parser.add_argument("--details", action="store_true", help="also print per-endpoint request counts etc.")
    args = parser.parse_args()
    rows: list[Row] = []
    details: list[str] = []
    started = time.perf_counter()
    for name in args.only.split(","):
        t0 = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        section = SECTIONS[name.strip()](args.quick)
        rows += section.rows
        details += section.details
        print(f"== {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(
        f"\nMachine: {machine()}; mode: {'quick' if args.quick else 'full'}; "
        f"suite wall time {time.perf_counter() - started:.0f} s\n"
    )
    print(render_table(rows))
    if args.details:
        print()
        print("\n".join(f"- {line}" for line in details))


if __name__ == "__main__":
    main()
