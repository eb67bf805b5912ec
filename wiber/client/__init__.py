"""The asyncio client library: `Client` (discovery), `Producer`, `Consumer`."""

from wiber.client.client import Client, bootstrap_from_env
from wiber.client.connection import ClientError, Connection
from wiber.client.consumer import Consumer
from wiber.client.producer import Producer

__all__ = ["Client", "ClientError", "Connection", "Consumer", "Producer", "bootstrap_from_env"]
