"""The real pipeline (tap, target, Meltano) wired to both loopback stand-ins.

Used by the demo (`scripts/demo.sh`), the end-to-end reliability tests and the shard benchmark, so that
they run the pipeline exactly the same way a user does: `meltano run stripe-to-kissmetrics`, or a plain
shell pipe. (The other benchmarks start the stand-ins and the plugins themselves, `benchmarks/harness.py`,
to time each part.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stand_ins.processes import REPO_ROOT, StandInProcess

JOB = "stripe-to-kissmetrics"
VENV_BIN = Path(sys.executable).parent
MELTANO = str(VENV_BIN / "meltano")
# Recognisable fake keys: the secret-scan tests look for them in every output.
KISSMETRICS_KEY = "km_standin_SECRETCANARY_7f3a9"


class LocalPipeline:
    """Both stand-ins as child processes, plus a private Meltano database, journal and state folder."""

    def __init__(
        self,
        invoices: int = 3000,
        seed: int = 7,
        workdir: Path | None = None,
        history_days: int = 120,
        stripe_args: tuple[str, ...] = (),
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="stripe-km-"))
        self.stripe = StandInProcess(
            "stripe",
            *("--invoices", str(invoices), "--seed", str(seed), "--history-days", str(history_days)),
            *stripe_args,
        )
        self.kissmetrics = StandInProcess("kissmetrics")
        self.stripe_key = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> LocalPipeline:
        from stand_ins.stripe import LIVE_KEY  # noqa: PLC0415 - import the stand-in only when used

        self.stripe_key = LIVE_KEY
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stripe.start()
        try:
            self.kissmetrics.start()
        except BaseException:
            self.stripe.stop()
            raise
        return self

    def stop(self) -> None:
        self.kissmetrics.stop()
        self.stripe.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalPipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration ---------------------------------------------------------------------------
    def tap_config(self, **extra: Any) -> dict[str, Any]:
        return {"api_key": self.stripe_key, "api_url": self.stripe.url, **extra}

    def target_config(self, **extra: Any) -> dict[str, Any]:
        return {
            "api_key": KISSMETRICS_KEY,
            "tracking_url": self.kissmetrics.url,
            "journal_path": str(self.workdir / "journal.sqlite"),
            **extra,
        }

    def meltano_env(self, **extra: str) -> dict[str, str]:
        """Environment for `meltano` against the stand-ins: settings via Meltano's env-var names."""
        env = dict(os.environ)
        env.update(
            {
                "MELTANO_ENVIRONMENT": "local",
                "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / 'meltano.db'}",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "TAP_STRIPE_BILLING_API_KEY": self.stripe_key,
                "TAP_STRIPE_BILLING_API_URL": self.stripe.url,
                "TARGET_KISSMETRICS_API_KEY": KISSMETRICS_KEY,
                "TARGET_KISSMETRICS_TRACKING_URL": self.kissmetrics.url,
                "TARGET_KISSMETRICS_JOURNAL_PATH": str(self.workdir / "journal.sqlite"),
                "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        env.update(extra)
        return env

    # -- running ---------------------------------------------------------------------------------
    def meltano(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed executable from our own venv
            [MELTANO, *args],
            cwd=REPO_ROOT,
            env=self.meltano_env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def meltano_run(self, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
        return self.meltano("run", JOB, timeout=timeout, **env)

    def advance_hours(self, hours: float) -> Any:
        return self.stripe.control("advance", {"hours": hours})

    def received(self) -> Any:
        """What the KISSmetrics stand-in would show on its dashboard (de-duplicated)."""
        return self.kissmetrics.control("dashboard")

    def summary(self) -> Any:
        return self.kissmetrics.control("summary")
