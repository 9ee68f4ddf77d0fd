"""Run a stand-in as a child process (for the demo, the end-to-end tests and the benchmarks).

Out-of-process stand-ins keep their CPU off the process being measured or tested, and let
``meltano run`` talk to them exactly as it would to the real services.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

_BANNER = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


class StandInProcess:
    """``python -m stand_ins.<name> --port 0 ARGS…`` as a child; ``url`` once it listens."""

    def __init__(self, name: str, *args: str, startup_timeout: float = 120.0) -> None:
        self.name = name
        self.args = [sys.executable, "-m", f"stand_ins.{name}", "--port", "0", *args]
        self.startup_timeout = startup_timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self._proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT
        )
        deadline = time.monotonic() + self.startup_timeout
        assert self._proc.stdout is not None
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = _BANNER.search(line)
            if match:
                self.url = match.group(1)
                return self.url
        self.stop()
        raise RuntimeError(f"stand-in {self.name} did not start: {''.join(seen)[-2000:]}")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def control(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """GET (no payload) or POST (JSON payload) one of the stand-in's ``/_standin/`` endpoints."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}/_standin/{path}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def __enter__(self) -> StandInProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
