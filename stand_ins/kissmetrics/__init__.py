"""Local stand-in for the KISSmetrics tracking API."""

from stand_ins.kissmetrics.server import DashboardEvent, KissmetricsStandIn, RecordedRequest

__all__ = ["DashboardEvent", "KissmetricsStandIn", "RecordedRequest"]
