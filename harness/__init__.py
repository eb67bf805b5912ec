"""Jepsen-style harness for Wiber."""
