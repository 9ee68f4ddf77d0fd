"""A time-ordered collection of one object kind and one mode, with Stripe's list semantics."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_MAX_ID = "\U0010ffff"


class Collection(Generic[T]):
    """Objects sorted by (created, id) ascending; listed newest first like Stripe."""

    def __init__(self, objs: Sequence[T], created: Callable[[T], int], ident: Callable[[T], str]) -> None:
        decorated = sorted(((created(o), ident(o)), o) for o in objs) if objs else []
        self.keys: list[tuple[int, str]] = [k for k, _ in decorated]
        self.objs: list[T] = [o for _, o in decorated]

    def __len__(self) -> int:
        return len(self.objs)

    def bounds(self, gte: int | None, lte: int | None) -> tuple[int, int]:
        lo = 0 if gte is None else bisect_left(self.keys, (gte, ""))
        hi = len(self.keys) if lte is None else bisect_right(self.keys, (lte, _MAX_ID))
        return lo, hi

    def position(self, key: tuple[int, str]) -> int:
        return bisect_left(self.keys, key)

    def page(  # noqa: PLR0917
        self,
        lo: int,
        hi: int,
        limit: int,
        keep: Callable[[T], bool] | None,
        after: tuple[int, str] | None = None,
        before: tuple[int, str] | None = None,
    ) -> tuple[list[T], bool]:
        """Up to ``limit`` objects in [lo, hi) newest first, and whether more exist in that direction.

        ``after``: only objects older than that key (``starting_after``); ``before``: only newer ones
        (``ending_before``), the ``limit`` closest to the cursor, still returned newest first.
        """
        objs = self.objs
        found: list[T] = []
        if before is not None:
            lo = max(lo, bisect_right(self.keys, before))
            i = lo
            while i < hi and len(found) <= limit:
                if keep is None or keep(objs[i]):
                    found.append(objs[i])
                i += 1
            more = len(found) > limit
            return list(reversed(found[:limit])), more
        if after is not None:
            hi = min(hi, bisect_left(self.keys, after))
        i = hi - 1
        while i >= lo and len(found) <= limit:
            if keep is None or keep(objs[i]):
                found.append(objs[i])
            i -= 1
        more = len(found) > limit
        return found[:limit], more


def index_by(objs: Sequence[Any], key: Callable[[Any], str | None]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for o in objs:
        k = key(o)
        if k is not None:
            out.setdefault(k, []).append(o)
    return out
