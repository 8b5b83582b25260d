"""AWS failures become ``TransientError``: SQS redelivers, and the redrive policy
dead-letters a record that keeps failing. Nothing from botocore goes further up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.errors import TransientError

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "LimitExceededException",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def transient_from(operation: str, error: Exception) -> TransientError:
    if isinstance(error, ClientError):
        code = error_code(error)
        if code in THROTTLING_CODES:
            return TransientError("aws_throttled", f"{operation} was throttled ({code})")
        return TransientError("aws_error", f"{operation} failed ({code})")
    return TransientError("aws_unavailable", f"{operation} failed ({error.__class__.__name__})")


@contextmanager
def aws_call(operation: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise transient_from(operation, error) from None
