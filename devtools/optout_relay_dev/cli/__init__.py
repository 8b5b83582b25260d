"""The ``optout-relay`` operator CLI (console script ``optout-relay = optout_relay_dev.cli:main``)."""

from optout_relay_dev.cli.app import app, main

__all__ = ["app", "main"]
