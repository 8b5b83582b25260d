"""boto3 clients, created once per execution environment and shared by the data layer."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_pool_size = 10


def size_pools(workers: int) -> None:
    """Size the clients' connection pools to the record workers (before the first client)."""
    global _pool_size  # noqa: PLW0603 - one setting per execution environment
    _pool_size = workers + 2


@functools.cache
def client(service: str) -> Any:
    session: Any = boto3.session.Session()
    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=_pool_size,
    )
    return session.client(service, config=config)
