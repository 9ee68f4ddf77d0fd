"""Run Airbyte's ``source-stripe`` (PyPI ``airbyte-source-stripe`` 5.14.1) against the Stripe stand-in.

Runs inside the peer's own virtual environment (``benchmarks/.venvs/airbyte-stripe``, Python < 3.12 as
the package requires), never ours::

    benchmarks/.venvs/airbyte-stripe/bin/python benchmarks/airbyte_stripe_shim.py STANDIN_URL read …

Two adjustments, neither of which changes what or how much the source requests:
- the manifest's ``url_base`` (``https://api.stripe.com/v1``) points at the stand-in;
- the process's clock (``time.time``, ``datetime.now``/``utcnow``) is shifted to the stand-in's simulated
  clock (read once from ``/_standin/clock``), because the source cuts its date windows on the local clock
  (``now_utc()`` in the manifest) and the stand-in lives in its own time.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import urllib.request
from typing import Any


def _shift_clock(offset: float) -> None:
    real_time = time.time

    def shifted_time() -> float:
        return real_time() + offset

    class ShiftedDatetime(dt.datetime):
        __slots__ = ()

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Any:
            return dt.datetime.fromtimestamp(shifted_time(), tz)

        @classmethod
        def utcnow(cls) -> Any:
            return dt.datetime.fromtimestamp(shifted_time(), dt.timezone.utc).replace(tzinfo=None)

    time.time = shifted_time
    dt.datetime = ShiftedDatetime  # type: ignore[misc]


def main() -> None:
    url = sys.argv[1].rstrip("/")
    args = sys.argv[2:]
    with urllib.request.urlopen(f"{url}/_standin/clock", timeout=30) as response:
        clock = int(json.loads(response.read())["now"])
    _shift_clock(clock - time.time())

    from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

    original = YamlDeclarativeSource._read_and_parse_yaml_file

    def pointed(self: Any, path: str) -> Any:
        manifest = original(self, path)
        manifest["definitions"]["base_requester"]["url_base"] = f"{url}/v1"
        return manifest

    YamlDeclarativeSource._read_and_parse_yaml_file = pointed  # type: ignore[method-assign]
    from source_stripe.run import run

    sys.argv = ["source-stripe", *args]
    run()


if __name__ == "__main__":
    main()
