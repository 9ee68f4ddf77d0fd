"""Run singer-io ``tap-stripe`` (PyPI 3.3.0, ``stripe==5.5.0``) against the Stripe stand-in.

Runs inside the baseline's own virtual environment (``benchmarks/.venvs/tap-stripe``), never ours::

    benchmarks/.venvs/tap-stripe/bin/python benchmarks/tap_stripe_shim.py STANDIN_URL [tap-stripe args…]

Three adjustments, none of which changes what or how much the tap requests:
- ``stripe.api_base`` points at the stand-in (the tap reads it globally);
- the tap's request timer parses the stream name out of ``https://api.stripe.com/v1/…`` only and crashes
  on any other host: it is given the same timer with a host-agnostic pattern;
- ``singer.utils.now()`` returns the stand-in's simulated clock (read once from ``/_standin/clock``),
  because the tap cuts its date windows on the local clock and the stand-in lives in its own time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import urllib.request


def main() -> None:
    url = sys.argv[1].rstrip("/")
    sys.argv = ["tap-stripe", *sys.argv[2:]]
    with urllib.request.urlopen(f"{url}/_standin/clock", timeout=30) as response:
        clock = int(json.loads(response.read())["now"])

    import singer.utils
    import stripe
    import tap_stripe
    from singer import metrics

    stripe.api_base = url
    frozen = dt.datetime.fromtimestamp(clock, tz=dt.timezone.utc)
    singer.utils.now = lambda: frozen

    def timer(client: object) -> None:
        original = client.request  # type: ignore[attr-defined]

        def wrapped(*args: object, **kwargs: object) -> object:
            match = re.match(r"https?://[^/]+/v1/(\w+)", str(args[1]))
            with metrics.http_request_timer(match.group(1) if match else "unknown"):
                return original(*args, **kwargs)

        client.request = wrapped  # type: ignore[attr-defined]

    tap_stripe.apply_request_timer_to_client = timer
    tap_stripe.main()


if __name__ == "__main__":
    main()
