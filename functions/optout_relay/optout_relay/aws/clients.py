"""boto3 clients, created once per execution environment and shared by the data layer."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=20,
)


@functools.cache
def client(service: str) -> Any:
    session: Any = boto3.session.Session()
    return session.client(service, config=_CONFIG)
