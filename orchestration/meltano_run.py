"""``meltano run`` for one shard as a child process: its command, its environment, its streamed log.

Secrets reach Meltano only through the inherited environment (``TAP_STRIPE_BILLING_API_KEY``,
``TARGET_KISSMETRICS_API_KEY``, …): they are never part of Dagster config, tags or run records, and every
streamed line is redacted against their values before it reaches Dagster (compute log or event log).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .shards import state_id_suffix

EXTRACTOR = "tap-stripe-billing"
LOADER = "target-kissmetrics"
SHARD_ENV = "TAP_STRIPE_BILLING_ACCOUNT_SHARD"
JOURNAL_PATH_ENV = "TARGET_KISSMETRICS_JOURNAL_PATH"
JOURNAL_URL_ENV = "TARGET_KISSMETRICS_JOURNAL_URL"
JOURNAL_ROOT_ENV = "STRIPE_KM_JOURNAL_ROOT"  # folder of the per-shard SQLite journals (no journal_url)
# Environment variables whose values never appear in a log line: keys, and URLs that may hold a password.
_SECRET_NAME = re.compile(r"(API_KEYS?|SECRET|PASSWORD|TOKEN|JOURNAL_URL|DATABASE_URI)$")
_URL_PASSWORD = re.compile(r"://[^/:@\s]*:([^@/\s]+)@")
_MIN_SECRET = 6  # shorter values ("true", "0") would redact ordinary words
REDACTED = "[redacted]"


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values to hide: secret-named variables, each value of a JSON object of keys, URL passwords."""
    found: set[str] = set()
    for name, value in env.items():
        if not _SECRET_NAME.search(name.upper()) or not value:
            continue
        found.add(value)
        found.update(_URL_PASSWORD.findall(value))
        try:
            parsed = json.loads(value)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found.update(str(item) for item in parsed.values())
    # Longest first, so a key is hidden whole even when a shorter secret is part of it.
    return sorted((v for v in found if len(v) >= _MIN_SECRET), key=len, reverse=True)


def redact(line: str, secrets: list[str]) -> str:
    for secret in secrets:
        line = line.replace(secret, REDACTED)
    return line


@dataclass(frozen=True)
class ShardRun:
    """What ``meltano run`` gets for one shard ``K/N``."""

    shard: str
    project_dir: Path
    meltano_bin: str
    environment: str = ""  # empty: MELTANO_ENVIRONMENT, else meltano.yml's default_environment
    journal_root: str = ""  # empty: $STRIPE_KM_JOURNAL_ROOT, else <project>/.target-kissmetrics/<env>/shards
    extra_args: tuple[str, ...] = field(default=())

    @property
    def suffix(self) -> str:
        return state_id_suffix(self.shard)

    def command(self) -> list[str]:
        env_args = ["--environment", self.environment] if self.environment else []
        return [
            self.meltano_bin,
            *env_args,
            "run",
            "--state-id-suffix",
            self.suffix,
            *self.extra_args,
            EXTRACTOR,
            LOADER,
        ]

    def journal_path(self, base: Mapping[str, str]) -> Path:
        environment = self.environment or base.get("MELTANO_ENVIRONMENT", "") or "default"
        chosen = self.journal_root or base.get(JOURNAL_ROOT_ENV, "")
        root = Path(chosen) if chosen else self.project_dir / ".target-kissmetrics" / environment / "shards"
        return root / self.suffix / "journal.sqlite"

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """The child's environment: the caller's (with its secrets), plus this shard's settings.

        A shared journal (``TARGET_KISSMETRICS_JOURNAL_URL``, PostgreSQL) is kept for every shard. Without
        one, each shard gets its own SQLite journal: SQLite serves one target at a time safely, and
        shards never share an account, so per-shard journals lose nothing while N stays the same.
        """
        env = dict(base)
        env[SHARD_ENV] = self.shard
        env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        env.setdefault("NO_COLOR", "1")
        if not env.get("MELTANO_SYS_DIR_ROOT"):
            self._own_run_folder(env)
        if not env.get(JOURNAL_URL_ENV):
            path = self.journal_path(base)
            path.parent.mkdir(parents=True, exist_ok=True)
            env[JOURNAL_PATH_ENV] = str(path)
        return env

    def _own_run_folder(self, env: dict[str, str]) -> None:
        """Concurrent `meltano run`s in one project share `.meltano/run/<plugin>/` (the catalog, config),
        and one run's cleanup removes another's `tap.properties.json` ("No such file or directory",
        seen with 4 shards). Each shard gets its own Meltano system folder whose plugin folders are links
        to the project's installed plugins; `run/` and `logs/` are its own, the state database stays the
        project's (`MELTANO_DATABASE_URI`, default `.meltano/meltano.db`)."""
        shared = self.project_dir / ".meltano"
        own = shared / "shards" / self.suffix
        own.mkdir(parents=True, exist_ok=True)
        for entry in sorted(shared.iterdir()):
            link = own / entry.name
            if entry.is_dir() and entry.name not in ("run", "logs", "shards") and not link.exists():
                link.symlink_to(entry)
        env.setdefault("MELTANO_DATABASE_URI", f"sqlite:///{shared / 'meltano.db'}")
        env["MELTANO_SYS_DIR_ROOT"] = str(own)


def run_streaming(
    command: list[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Callable[[str], None],
    tail_lines: int = 40,
) -> tuple[int, list[str]]:
    """Run ``command``, pass each output line (stderr merged, redacted) to ``log`` as it comes.

    Returns the exit code and the last ``tail_lines`` lines (redacted) for the failure message.
    """
    secrets = secret_values(env)
    tail: deque[str] = deque(maxlen=tail_lines)
    with subprocess.Popen(  # noqa: S603 - the project's own meltano executable, no shell
        command,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
    ) as child:
        assert child.stdout is not None
        try:
            for raw in child.stdout:
                line = redact(raw.rstrip("\n"), secrets)
                tail.append(line)
                log(line)
        except BaseException:
            # The run was terminated (Dagster interrupts the op): stop Meltano the way a user's Ctrl-C
            # would, so the target finishes the batch in flight and emits its state, then re-raise.
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
        code = child.wait()
    return code, list(tail)
