"""``python -m stand_ins.kissmetrics --port P [--api-key K] [--latency-ms MS]``."""

from __future__ import annotations

import argparse

from stand_ins.common import serve_until_interrupted
from stand_ins.kissmetrics.server import KissmetricsStandIn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stand_ins.kissmetrics", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-key", default=None, help="flag requests whose _k differs")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every tracking request")
    args = parser.parse_args(argv)
    server = KissmetricsStandIn(port=args.port, api_key=args.api_key)
    server.latency_seconds = args.latency_ms / 1000.0
    serve_until_interrupted(server, "KISSmetrics stand-in")


if __name__ == "__main__":
    main()
