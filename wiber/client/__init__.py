"""The asyncio client library: `Client` (discovery), `Producer`, `Consumer`."""

from wiber.client.causal import CausalConsumer, CausalProducer, Sent
from wiber.client.client import Client, bootstrap_from_env
from wiber.client.connection import ClientError, Connection, Credentials
from wiber.client.consumer import Consumer
from wiber.client.producer import Producer

__all__ = [
    "CausalConsumer",
    "CausalProducer",
    "Client",
    "ClientError",
    "Connection",
    "Consumer",
    "Credentials",
    "Producer",
    "Sent",
    "bootstrap_from_env",
]
