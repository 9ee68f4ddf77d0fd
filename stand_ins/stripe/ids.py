"""Stripe-looking object ids: deterministic for a seed, unique per prefix, 24 characters after it."""

from __future__ import annotations

import random

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


class IdFactory:
    """``prefix_`` + "1" + 7-char counter + 16-char account tag, like ``in_1Pgc6tB7WZ01zgkWu9fdqL6I``."""

    def __init__(self, rng: random.Random) -> None:
        self.tag = "".join(rng.choice(_ALPHABET) for _ in range(16))
        self._counters: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}_1{base62(n * 7919 + 1000, 7)}{self.tag}"
