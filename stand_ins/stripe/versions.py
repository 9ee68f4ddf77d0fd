"""Objects in older Stripe API versions, shaped after Stripe's own example objects of the time.

Stripe renders an object in one API version: the request's ``Stripe-Version`` (else the account's
default), and an event's ``data.object`` in the account's default version when the event was created
(the event's ``api_version``). The stand-in renders every object in the pinned shape (and, before
2025-03-31.basil, in the pre-basil shape of ``render_invoice``/``render_billing``'s ``legacy`` flag),
then, for an older version, projects it onto the keys Stripe's example objects of that version carry
(``stripe-fixtures/history/``): keys the version did not have are dropped, keys only it had are
derived (``date`` from ``created``, ``paid`` and ``closed`` from the status, a plan's ``name`` from its
product…), anything else the version had and the stand-in does not model is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "stripe-fixtures"
CURRENT_API_VERSION = "2026-10-28.endive"
BASIL = "2025-03-31.basil"

# API version -> Stripe's example objects of its time (see stripe-fixtures/README.md), oldest first.
FILES: dict[str, str] = {
    "2017-08-15": "history/fixtures-2017-10-31.json",
    "2018-02-28": "history/fixtures-2018-05-09.json",
    "2018-11-08": "history/fixtures-2018-11-28.json",
    "2019-05-16": "history/fixtures-2019-05-31.json",
    "2020-08-27": "history/fixtures-2020-09-29.json",
    "2022-08-01": "history/fixtures-2022-08-31.json",
    "2023-10-16": "history/fixtures-2023-10-11.json",
    "2024-06-20": "history/fixtures-2024-06-21.json",
    BASIL: "history/fixtures-2025-03-25.json",
    "2025-09-30.clover": "history/fixtures-2025-09-29.json",
    CURRENT_API_VERSION: "fixtures.json",
}
KNOWN = tuple(FILES)
FREE_FORM = frozenset({"metadata"})  # keys whose contents are the user's, never a shape

# A key tree: key -> the tree of a plain nested dict (``status_transitions``), or None (a leaf, or an
# object with its own ``object`` kind, shaped by that kind's tree).
Tree = dict[str, "Tree | None"]
Names = Callable[[str], str | None]  # product id -> product name


def nearest(version: str) -> str:
    """The newest version with example objects here released on or before ``version`` (Stripe accepts
    every dated version it released, e.g. 2025-02-24.acacia; its shapes are those of the last one the
    fixtures show). A version older than all of them gets the oldest."""
    if version in FILES:
        return version
    earlier = [known for known in KNOWN if known[:10] <= version[:10]]
    return earlier[-1] if earlier else KNOWN[0]


def before_basil(version: str) -> bool:
    """Versions before 2025-03-31.basil carry ``invoice.subscription`` and line ``price``/``plan``."""
    return version[:10] < BASIL[:10]


def _merge_plain(value: dict[str, Any], tree: Tree, kinds: dict[str, Tree]) -> None:
    for key, child in value.items():
        if isinstance(child, dict) and "object" not in child and key not in FREE_FORM:
            sub = tree.get(key) or {}
            _merge_plain(child, sub, kinds)
            tree[key] = sub
        else:
            tree.setdefault(key, None)
            _collect(child, kinds)


def _collect(value: Any, kinds: dict[str, Tree]) -> None:
    if isinstance(value, list):
        for item in value:
            _collect(item, kinds)
    elif isinstance(value, dict):
        kind = value.get("object")
        if kind == "list" or not isinstance(kind, str):
            for child in value.values():
                _collect(child, kinds)
            return
        _merge_plain(value, kinds.setdefault(kind, {}), kinds)


@cache
def _own_trees(version: str) -> dict[str, Tree]:
    resources = json.loads((FIXTURES / FILES[version]).read_text())["resources"]
    kinds: dict[str, Tree] = {}
    for name, example in sorted(resources.items()):
        if name != "event":  # an event's data.object is whatever its type says (and some are wrong)
            _collect(example, kinds)
    return kinds


@cache
def trees(version: str) -> dict[str, Tree]:
    """Object kind -> its key tree in ``version``: from that version's examples, and for a kind they do
    not show, from the earliest later file that does."""
    out: dict[str, Tree] = {}
    for later in KNOWN[KNOWN.index(nearest(version)) :]:
        for kind, tree in _own_trees(later).items():
            out.setdefault(kind, tree)
    return out


def _status(obj: dict[str, Any]) -> str | None:
    status = obj.get("status")
    return status if isinstance(status, str) else None


def _transition(name: str) -> Callable[[dict[str, Any], Names], Any]:
    return lambda obj, names: (obj.get("status_transitions") or {}).get(name)


# (kind, key) -> the value of a key an older version had and the pinned shape has not.
DERIVED: dict[tuple[str, str], Callable[[dict[str, Any], Names], Any]] = {
    ("invoice", "date"): lambda obj, names: obj.get("created"),
    ("invoice", "paid"): lambda obj, names: _status(obj) == "paid",
    ("invoice", "closed"): lambda obj, names: _status(obj) in ("paid", "void", "uncollectible"),
    ("invoice", "forgiven"): lambda obj, names: _status(obj) == "uncollectible",
    ("invoice", "finalized_at"): _transition("finalized_at"),
    ("invoice", "billing"): lambda obj, names: obj.get("collection_method"),
    ("invoice", "paid_out_of_band"): lambda obj, names: False,
    ("subscription", "billing"): lambda obj, names: obj.get("collection_method"),
    ("subscription", "start"): lambda obj, names: obj.get("start_date"),
    ("plan", "name"): lambda obj, names: names(str(obj.get("product") or "")),
}


def _default(template: Any) -> Any:
    return [] if isinstance(template, list) else None


def shape(value: Any, version: str, names: Names, tree: Tree | None = None) -> Any:
    """``value`` (a pinned-shape or pre-basil render) as Stripe renders it in ``version``."""
    if version == CURRENT_API_VERSION:
        return value
    if isinstance(value, list):
        return [shape(item, version, names) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("object")
    if kind == "list":
        return {**value, "data": [shape(item, version, names) for item in value.get("data") or []]}
    kinds = trees(version)
    if isinstance(kind, str):
        if kind not in kinds:
            return value
        return _shape_keys(value, kinds[kind], kind, version, names)
    if tree:
        return _shape_keys(value, tree, None, version, names)
    return value


def _shape_keys(
    obj: dict[str, Any], tree: Tree, kind: str | None, version: str, names: Names
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key in obj:
            value = obj[key]
            out[key] = value if key in FREE_FORM else shape(value, version, names, sub)
        elif kind is not None and (kind, key) in DERIVED:
            out[key] = DERIVED[(kind, key)](obj, names)
        else:
            out[key] = {} if sub is not None else None
    return out


def shape_partial(kind: str, values: dict[str, Any], version: str, names: Names) -> dict[str, Any]:
    """``previous_attributes``: only the keys given, those ``version`` knows, each in its shape."""
    tree = trees(version).get(kind, {})
    return {key: shape(value, version, names, tree.get(key)) for key, value in values.items() if key in tree}
