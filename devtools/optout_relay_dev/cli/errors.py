"""User-facing errors: one line on stderr, no stack trace, exit status 1."""

from __future__ import annotations

from typing import IO

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from rich.console import Console
from rich.markup import escape

NO_CREDENTIALS = (
    "no AWS credentials found: configure them (`aws configure`, AWS_PROFILE, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or leave out --stack-name to use "
    "the local emulation"
)
_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "RequestExpired",
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}


class CliError(Exception):
    """A problem the user can fix: shown as one ``error: <message>`` line on stderr, exit 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def show(self, file: IO[str] | None = None) -> None:
        console = Console(file=file, stderr=file is None, highlight=False, soft_wrap=True)
        console.print(f"[bold red]error:[/] {escape(self.message)}")


def describe_aws_error(error: BotoCoreError | ClientError) -> str:
    """One line that says what went wrong and what to do, for any boto3 failure."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return NO_CREDENTIALS
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)"
    if isinstance(error, ProfileNotFound):
        return f"{error}: check AWS_PROFILE and ~/.aws/config"
    if isinstance(error, EndpointConnectionError):
        return (
            f"could not connect to {error.kwargs.get('endpoint_url', 'the AWS endpoint')}: "
            "check the network, the region, or that the local emulation is still running"
        )
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message", "")).strip()
        operation = error.operation_name
        if code in _CREDENTIAL_CODES:
            return f"AWS refused the credentials ({code}): {message or 'refresh or reconfigure them'}"
        if code in _DENIED_CODES:
            return f"access denied for {operation}: {message}"
        return (
            f"AWS {operation} failed ({code}): {message}" if message else f"AWS {operation} failed ({code})"
        )
    return f"AWS call failed: {error}"
