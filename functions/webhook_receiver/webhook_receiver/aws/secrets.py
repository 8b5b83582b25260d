"""The webhook secret, through Powertools parameters: cached for five minutes, fetched
again (at most every ``REFETCH_INTERVAL_SECONDS``) before a request is refused, so a
rotated secret needs no redeploy and a flood of bad requests cannot become a flood of
Secrets Manager calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities import parameters

from webhook_receiver.credentials import WebhookCredentials, credentials_from
from webhook_receiver.errors import SecretUnavailable

SECRET_MAX_AGE_SECONDS = 300
REFETCH_INTERVAL_SECONDS = 30.0


class WebhookSecretStore:
    def __init__(
        self,
        secret_id: str,
        client: Any,
        *,
        max_age: int = SECRET_MAX_AGE_SECONDS,
        refetch_interval: float = REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_read: Callable[[WebhookCredentials], None] = lambda credentials: None,
    ) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self.refetch_interval = refetch_interval
        self._provider = parameters.SecretsProvider(boto3_client=client)
        self._clock = clock
        self._on_read = on_read
        self._last_forced: float | None = None
        self._lock = threading.Lock()

    def current(self) -> WebhookCredentials:
        with self._lock:
            return self._read(force=False)

    def refetched(self) -> WebhookCredentials | None:
        """The secret fetched again, or ``None`` if it was fetched again too recently."""
        with self._lock:
            now = self._clock()
            if self._last_forced is not None and now - self._last_forced < self.refetch_interval:
                return None
            self._last_forced = now
            return self._read(force=True)

    def _read(self, *, force: bool) -> WebhookCredentials:
        try:
            value = self._provider.get(
                self.secret_id, transform="json", max_age=self.max_age, force_fetch=force
            )
        except parameters.TransformParameterError:
            raise SecretUnavailable("the webhook secret is not a JSON object") from None
        except parameters.GetParameterError as error:
            cause = error.__cause__ or error.__context__
            raise SecretUnavailable(
                f"the webhook secret could not be read ({type(cause or error).__name__})"
            ) from None
        if not isinstance(value, dict):
            raise SecretUnavailable("the webhook secret is not a JSON object")
        credentials = credentials_from(value)
        self._on_read(credentials)
        return credentials
