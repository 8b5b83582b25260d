"""Provider secrets from Secrets Manager, cached by Powertools parameters."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from optout_relay.aws.clients import client
from optout_relay.aws.errors import transient_from
from optout_relay.errors import TransientError

SECRET_MAX_AGE_SECONDS = 300


class SecretsManagerStore:
    def __init__(self, max_age: int = SECRET_MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        # Record workers that miss the cache together would each fetch the secret.
        self._lock = threading.Lock()
        self._provider: parameters.SecretsProvider | None = None

    @property
    def provider(self) -> parameters.SecretsProvider:
        # On the data layer's shared client: a client of its own would cost a cold start
        # another botocore session.
        if self._provider is None:
            self._provider = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
        return self._provider

    def get(self, secret_id: str, *, refresh: bool = False) -> Mapping[str, Any]:
        with self._lock:
            return self._get(secret_id, refresh)

    def _get(self, secret_id: str, refresh: bool) -> Mapping[str, Any]:
        try:
            value = self.provider.get(secret_id, transform="json", max_age=self.max_age, force_fetch=refresh)
        except parameters.TransformParameterError:
            raise TransientError("secret_malformed", f"secret {secret_id} is not a JSON object") from None
        except parameters.GetParameterError as error:
            cause = error.__cause__ or error.__context__
            if isinstance(cause, ClientError):
                raise transient_from(f"reading secret {secret_id}", cause) from None
            raise TransientError("secret_unavailable", f"secret {secret_id} could not be read") from None
        if not isinstance(value, Mapping):
            raise TransientError("secret_malformed", f"secret {secret_id} is not a JSON object")
        return value
