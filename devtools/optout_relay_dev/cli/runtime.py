"""Runs the real Lambda handler (``optout_relay.handler.lambda_handler``) in this process,
with the function's environment, its logs and EMF metrics written to a file.

The handler module reads its settings once, at import (a cold start). Here the
environment is set first; if the module was already imported, its relay is rebuilt
from the new settings, as a new cold start would, and put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.event_source import Handler

# Variables that would send boto3 somewhere else than the given endpoint.
_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE")


def _reset_sdk_caches() -> None:
    """boto3 clients and Powertools' secret providers remember the endpoint they were made for."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    from optout_relay.aws import clients

    clear_clients: Callable[[], None] | None = getattr(clients.client, "cache_clear", None)
    if clear_clients is not None:
        clear_clients()
    DEFAULT_PROVIDERS.clear()


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _quiet(log: IO[str], handler: Handler) -> Handler:
    """The handler, with whatever it prints (EMF metrics, warnings) sent to ``log``."""

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with (
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            return handler(event, context)

    return invoke


@contextlib.contextmanager
def local_function(environment: Mapping[str, str], log_path: Path) -> Iterator[Handler]:
    """Yields the real handler, configured by ``environment``, logging to ``log_path``."""
    from optout_relay.errors import ConfigurationError

    log_path.parent.mkdir(parents=True, exist_ok=True)
    first_import = "optout_relay.handler" not in sys.modules
    with _environment(environment), log_path.open("a", encoding="utf-8") as log:
        _reset_sdk_caches()
        try:
            import optout_relay.handler as handler_module
            from optout_relay.observability import logger
            from optout_relay.settings import Settings
            from optout_relay.wiring import build_relay

            relay = build_relay(Settings.from_env(), handler_module.outcome_metrics)
        except ConfigurationError as error:
            raise CliError(str(error)) from None
        previous_relay = handler_module.relay
        handler_module.relay = relay
        stream_handler: Any = logger.registered_handler
        previous_stream = stream_handler.setStream(log)
        if first_import:
            # Imported just now, the logger took whatever stdout was then (a test
            # runner's capture, say): afterwards it writes to the process's own stdout.
            previous_stream = sys.__stdout__
        try:
            yield _quiet(log, handler_module.lambda_handler)
        finally:
            stream_handler.setStream(previous_stream)
            handler_module.relay = previous_relay
            _reset_sdk_caches()
