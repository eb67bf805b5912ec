"""Wiber: a Raft-replicated publish/subscribe log."""

__version__ = "0.1.0"
