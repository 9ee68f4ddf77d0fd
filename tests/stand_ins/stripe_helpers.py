"""Shared helpers for the Stripe stand-in tests: a tiny HTTP client."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from stand_ins.stripe import LIVE_KEY


def call(  # noqa: PLR0917
    base: str,
    path: str,
    params: list[tuple[str, str]] | dict[str, Any] | None = None,
    key: str | None = LIVE_KEY,
    method: str = "GET",
    body: dict[str, Any] | None = None,
    basic: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    query = urlencode(params or {})
    url = f"{base}{path}" + (f"?{query}" if query else "")
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, data=data, method=method)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if key is not None:
        if basic:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())
        else:
            req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def walk(
    base: str, path: str, params: dict[str, Any] | list[tuple[str, str]] | None = None, key: str = LIVE_KEY
) -> list[dict[str, Any]]:
    """Every object of a list endpoint, following starting_after."""
    out: list[dict[str, Any]] = []
    pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
    if not any(k == "limit" for k, _ in pairs):
        pairs.append(("limit", "100"))
    cursor: list[tuple[str, str]] = []
    while True:
        status, page, _ = call(base, path, pairs + cursor, key)
        assert status == 200, page
        out += page["data"]
        if not page["has_more"]:
            return out
        cursor = [("starting_after", page["data"][-1]["id"])]
