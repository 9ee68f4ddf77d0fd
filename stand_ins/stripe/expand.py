"""``expand[]``: replace ids by objects along dotted paths, copying instead of mutating renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import StripeError

MAX_LEVELS = 4
Resolver = Callable[[str], dict[str, Any] | None]


def check(paths: list[str], is_list: bool) -> None:
    for path in paths:
        if len(path.split(".")) > MAX_LEVELS:
            raise StripeError(400, "You cannot expand more than 4 levels of a property", param="expand")
        if is_list and not path.startswith("data."):
            raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")


def apply(obj: dict[str, Any], paths: list[str], resolve: Resolver) -> dict[str, Any]:
    for path in sorted(paths, key=lambda s: s.count(".")):
        obj = _walk(obj, path.split("."), path, resolve)
    return obj


def _walk(obj: Any, segs: list[str], path: str, resolve: Resolver) -> Any:
    if isinstance(obj, list):
        return [_walk(o, segs, path, resolve) for o in obj]
    if not isinstance(obj, dict):
        return obj
    head, rest = segs[0], segs[1:]
    if head not in obj:
        raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
    new = dict(obj)
    value = obj[head]
    if rest:
        new[head] = _walk(value, rest, path, resolve)
    elif isinstance(value, str):
        new[head] = _resolved(value, path, resolve)
    elif isinstance(value, list):  # an array of expandable ids (``discounts``): each one expanded
        new[head] = [_resolved(v, path, resolve) if isinstance(v, str) else v for v in value]
    elif value is not None and not isinstance(value, dict):
        raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
    return new


def _resolved(object_id: str, path: str, resolve: Resolver) -> dict[str, Any]:
    resolved = resolve(object_id)
    if resolved is None:
        raise StripeError(400, f"This property cannot be expanded ({path}).", param="expand")
    return resolved
