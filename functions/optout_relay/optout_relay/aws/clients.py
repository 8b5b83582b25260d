"""boto3 clients, created once per execution environment and shared by the data layer."""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
from botocore.config import Config

_pool_size = 10


def size_pools(workers: int) -> None:
    """Size the clients' connection pools to the record workers (before the first client)."""
    global _pool_size  # noqa: PLW0603 - one setting per execution environment
    _pool_size = workers + 2


_lock = threading.Lock()


def client(service: str) -> Any:
    """One client per service, even when the first record workers ask for it at once."""
    with _lock:
        return _client(service)


@functools.cache
def _session() -> Any:
    # One session for every client: each session loads botocore's endpoint and service
    # data afresh, which is most of the cost of a first client on a cold start.
    return boto3.session.Session()


@functools.cache
def _client(service: str) -> Any:
    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=_pool_size,
        # The services validate every request themselves; botocore's own pass over each
        # parameter was a third of the function's CPU time per provider call.
        parameter_validation=False,
    )
    return _session().client(service, config=config)


def _clear() -> None:
    """Forget every client and the session (tests and the CLI switch endpoints)."""
    _client.cache_clear()
    _session.cache_clear()


client.cache_clear = _clear  # type: ignore[attr-defined]


class LazyClient:
    """``dynamodb = LazyClient("dynamodb")``: the shared client, fetched on first use, unless
    the instance was given one of its own in ``_dynamodb`` (tests inject moto or fakes)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = f"_{name}"

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        value = getattr(instance, self.attribute, None)
        if value is None:
            value = client(self.service)
            setattr(instance, self.attribute, value)
        return value
