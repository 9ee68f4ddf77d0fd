"""CHANGELOG.md: an Unreleased section to add to, released versions no newer than the packages, and a
version policy that names every public stream and event the code has."""

from __future__ import annotations

import re
from importlib.metadata import version

from packaging.version import Version
from tap_stripe_billing.tap import TapStripeBilling
from target_kissmetrics.mapping import DEFAULT_MAPPINGS

from stand_ins.processes import REPO_ROOT

CHANGELOG = (REPO_ROOT / "CHANGELOG.md").read_text()
POLICY = CHANGELOG.split("## Version policy", 1)[1].split("\n## [", 1)[0]


def test_there_is_an_unreleased_section_to_append_to() -> None:
    headings = re.findall(r"^## \[([^\]]+)\]", CHANGELOG, re.M)
    assert headings[0] == "Unreleased"
    newest = max(Version(version(name)) for name in ("tap-stripe-billing", "target-kissmetrics"))
    assert all(Version(h) <= newest for h in headings[1:]), "a released entry newer than the packages"


def test_the_policy_names_every_stream_and_event() -> None:
    streams = [
        s.name
        for s in TapStripeBilling(config={"api_key": "sk_live_x"}, validate_config=False).streams.values()
    ]
    assert sorted(streams) == sorted(DEFAULT_MAPPINGS)
    events = {m["event_name"] for m in DEFAULT_MAPPINGS.values() if "event_name" in m}
    events |= {n for m in DEFAULT_MAPPINGS.values() for n in m.get("event_names", {}).values()}
    for name in [*streams, *events, "tap-stripe-billing", "target-kissmetrics"]:
        assert f"`{name}`" in POLICY, name
    assert "always breaking" in POLICY
