"""Reliability: faults, crashes and bad input lose nothing, double-count nothing, leak nothing."""
