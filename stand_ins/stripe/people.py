"""Customer names and e-mail addresses, including the awkward ones (none, upper-case, padded, set late)."""

from __future__ import annotations

import random

from .config import DAY

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "Guido",
    "Anita",
    "Yukihiro",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners",
    "Lamarr",
    "Rossum",
    "Borg",
    "Matsumoto",
]
DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example")


def person(  # noqa: PLR0917
    rng: random.Random,
    n: int,
    created: int,
    livemode: bool,
    no_email_share: float = 0.004,
    late_email_share: float = 0.01,
) -> tuple[str, str | None, int]:
    """(name, email as stored by Stripe or None, time the email was set)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    tag = "" if livemode else "test+"
    base = f"{tag}{first.lower()}.{last.lower()}{n}@{rng.choice(DOMAINS)}"
    roll = rng.random()
    email: str | None
    if roll < no_email_share:
        email = None
    elif roll < 0.09:
        email = f"{tag}{first}.{last}{n}@Example.COM"
    elif roll < 0.13:
        email = f"  {base} "
    else:
        email = base
    email_set_at = created
    if email is not None and rng.random() < late_email_share:
        email_set_at = created + rng.randint(1, 45) * DAY
    return f"{first} {last}", email, email_set_at
