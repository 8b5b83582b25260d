"""Lambda entry point behind the function URL: builds the receiver once per execution
environment and hands it each request. The event is never logged: its path or query
holds the Tatango token."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from webhook_receiver.errors import ConfigurationError
from webhook_receiver.observability import logger
from webhook_receiver.settings import Settings
from webhook_receiver.wiring import build_receiver

try:
    receiver = build_receiver(Settings.from_env())
except ConfigurationError as error:
    logger.error(str(error))
    raise


@logger.inject_lambda_context(clear_state=True, log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receiver.invoke(event)
