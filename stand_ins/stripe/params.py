"""Stripe's form-style parameters: ``a=1``, ``created[gte]=5``, ``expand[]=x``, ``types[0]=y``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import StripeError, bad_param

_KEY = re.compile(r"^([A-Za-z0-9_]+)((?:\[[^\]]*\])*)$")
_SUB = re.compile(r"\[([^\]]*)\]")


@dataclass
class Params:
    scalars: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.scalars.get(name)


def parse(pairs: list[tuple[str, str]]) -> Params:
    p = Params()
    indexed: dict[str, list[tuple[int, str]]] = {}
    for key, value in pairs:
        m = _KEY.match(key)
        if m is None:
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        name, subs = m.group(1), _SUB.findall(m.group(2))
        if not subs:
            p.scalars[name] = value
        elif subs[0] == "":
            indexed.setdefault(name, []).append((len(indexed.get(name, [])) + 10**9, value))
        elif subs[0].isdigit():
            indexed.setdefault(name, []).append((int(subs[0]), value))
        else:
            p.maps.setdefault(name, {})[subs[0]] = value
    for name, items in indexed.items():
        p.lists[name] = [v for _, v in sorted(items, key=lambda iv: iv[0])]
    return p


def integer(p: Params, name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise bad_param(f"Invalid integer: {raw}", name) from None


def created_bounds(p: Params) -> tuple[int | None, int | None]:
    """``created`` filters as an inclusive [gte, lte] range."""
    gte: int | None = None
    lte: int | None = None
    if "created" in p.scalars:
        gte = lte = integer(p, "created", p.scalars["created"])
    for op, raw in p.maps.get("created", {}).items():
        value = integer(p, f"created[{op}]", raw)
        if op == "gte":
            gte = value if gte is None else max(gte, value)
        elif op == "gt":
            gte = value + 1 if gte is None else max(gte, value + 1)
        elif op == "lte":
            lte = value if lte is None else min(lte, value)
        elif op == "lt":
            lte = value - 1 if lte is None else min(lte, value - 1)
        else:
            raise StripeError(400, f"Received unknown parameter: created[{op}]", param=f"created[{op}]")
    return gte, lte


def limit(p: Params) -> int:
    raw = p.get("limit")
    if raw is None or raw == "":
        return 10
    value = integer(p, "limit", raw)
    if not 1 <= value <= 100:
        raise StripeError(
            400,
            f"Invalid integer: {value}. This value must be greater than or equal to 1 "
            "and less than or equal to 100.",
            param="limit",
        )
    return value
